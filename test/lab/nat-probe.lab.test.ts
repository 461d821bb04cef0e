// nat-probe on real Linux NATs, part 1: open, firewall, full cone (with and without
// hairpinning), restricted and port-restricted cone. Each case builds a fresh namespace set
// (nat-lab.sh), runs turnkit with two addresses in "inet" and nat-probe --json in "client", and
// the verdict must equal nat-lab.md's answer. Needs root, iproute2 and nftables.
import t from 'tap';
import { verdictTests } from './lab.js';
import { loadReportSchema, validate } from '../nat-probe/schema.js';

verdictTests(t, ['open', 'firewall', 'full-cone', 'full-cone --hairpin', 'restricted', 'port-restricted'], loadReportSchema(), validate);
