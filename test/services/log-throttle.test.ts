import t from 'tap';
import { LogThrottle } from '../../src/services/log-throttle.js';

t.test('one line per key per interval, then how many were left out', async (t) => {
  const log = new LogThrottle(60_000);
  t.equal(log.take('a', 0), 0, 'the first event gets a line, nothing left out before it');
  t.equal(log.take('a', 1), undefined, 'the next within the minute does not');
  t.equal(log.take('a', 59_999), undefined);
  t.equal(log.take('b', 2), 0, 'another key has its own minute');
  t.equal(log.take('a', 60_000), 2, 'a minute on: a line again, saying two were left out');
  t.equal(log.take('a', 60_001), undefined);
  t.equal(log.take('a', 200_000), 1, 'the count restarts after each line');
});

t.test('memory is bounded: past 10,000 keys it starts over, costing at most an extra line per key', async (t) => {
  const log = new LogThrottle(60_000);
  for (let i = 0; i < 10_000; i++) log.take(`k${i}`, 0);
  t.equal(log.take('k0', 1), undefined, 'still remembered at 10,000 keys');
  t.equal(log.take('new', 2), 0, 'a new key past the bound gets its line');
  t.equal(log.take('k0', 3), 0, 'and the old keys were forgotten: one extra line');
  t.equal(log.take('k0', 4), undefined, 'then throttled again');
});
