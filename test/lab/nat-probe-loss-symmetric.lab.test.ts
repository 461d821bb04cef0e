// nat-probe under 10 % random loss, part 2 (hairpinning, symmetric, address-dependent mapping):
// every verdict must be right or "unknown", never wrong. See lossTests in lab.ts.
import t from 'tap';
import { lossTests } from './lab.js';
import { loadReportSchema, validate } from '../nat-probe/schema.js';

lossTests(t, ['full-cone --hairpin', 'port-restricted --hairpin', 'symmetric', 'symmetric --hairpin', 'adm'], loadReportSchema(), validate);
