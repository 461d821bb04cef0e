import t from 'tap';
import { PortSet } from '../../src/transport/port-set.js';

t.test('a port is held per host until deleted', async (t) => {
  const s = new PortSet();
  t.equal(s.has('127.0.0.1', 50000), false);
  s.add('127.0.0.1', 50000);
  s.add('::1', 65535);
  t.equal(s.has('127.0.0.1', 50000), true);
  t.equal(s.has('127.0.0.2', 50000), false, 'another host');
  t.equal(s.has('127.0.0.1', 50001), false, 'another port');
  t.equal(s.has('::1', 65535), true);
  s.delete('127.0.0.1', 50000);
  s.delete('198.18.0.1', 1);
  t.equal(s.has('127.0.0.1', 50000), false);
  t.equal(s.has('::1', 65535), true);
});
