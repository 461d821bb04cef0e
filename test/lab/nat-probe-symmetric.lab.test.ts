// nat-probe on real Linux NATs, part 2: port-restricted with hairpinning, symmetric (with and
// without hairpinning), address-dependent mapping, and UDP blocked (exit status 3).
import t from 'tap';
import { verdictTests } from './lab.js';
import { loadReportSchema, validate } from '../nat-probe/schema.js';

verdictTests(t, ['port-restricted --hairpin', 'symmetric', 'symmetric --hairpin', 'adm', 'udp-blocked'], loadReportSchema(), validate);
