import { AttributeType, Method } from './constants.js';

/** Converts a PascalCase constant name to the RFC's spelling, e.g. XorMappedAddress → XOR-MAPPED-ADDRESS. */
function rfcSpelling(name: string): string {
  return name
    .replace(/Sha256/, '-SHA256')
    .replace(/([a-z])([A-Z])/g, '$1-$2')
    .toUpperCase();
}

const ATTRIBUTE_NAMES = new Map<number, string>(
  Object.entries(AttributeType).map(([name, type]) => [type, rfcSpelling(name)]),
);
// RFC 7982 registered this one with underscores, unlike every other attribute.
ATTRIBUTE_NAMES.set(AttributeType.TransactionTransmitCounter, 'TRANSACTION_TRANSMIT_COUNTER');
const METHOD_NAMES = new Map<number, string>(Object.entries(Method).map(([name, m]) => [m, name]));

/** The RFC name of an attribute type (e.g. "XOR-MAPPED-ADDRESS"), or its hex for unknown types. */
export function attributeName(type: number): string {
  return ATTRIBUTE_NAMES.get(type) ?? `0x${type.toString(16).padStart(4, '0')}`;
}

/** The RFC name of a method (e.g. "Binding"), or its hex for unknown methods. */
export function methodName(method: number): string {
  return METHOD_NAMES.get(method) ?? `0x${method.toString(16).padStart(3, '0')}`;
}
