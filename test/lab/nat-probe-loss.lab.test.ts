// nat-probe under 10 % random loss, part 1 (open, firewall, full cone, restricted, port-restricted):
// every verdict must be right or "unknown", never wrong. See lossTests in lab.ts.
import t from 'tap';
import { lossTests } from './lab.js';
import { loadReportSchema, validate } from '../nat-probe/schema.js';

lossTests(t, ['open', 'firewall', 'full-cone', 'restricted', 'port-restricted'], loadReportSchema(), validate);
