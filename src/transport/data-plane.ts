import type { DataPlaneChoice } from '../config.js';
import { TurnkitError } from '../errors.js';
import { jsDataPlane, type DataPlane } from './datagram.js';
import { nativeDataPlane, nativePlaneUnavailable } from './native-plane.js';

/**
 * The data plane `choice` names: `native` fails when the addon cannot load, `auto` falls back to
 * JavaScript and says why in `note`.
 */
export function createDataPlane(choice: DataPlaneChoice): { plane: DataPlane; note?: string } {
  if (choice === 'js') return { plane: jsDataPlane() };
  const why = nativePlaneUnavailable();
  if (!why) return { plane: nativeDataPlane() };
  if (choice === 'native') {
    throw new TurnkitError('ERR_CONFIG_INVALID', `--data-plane native: ${why}; build it with node scripts/build-native.mjs or use --data-plane js`);
  }
  return { plane: jsDataPlane(), note: why };
}
