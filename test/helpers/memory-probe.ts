/**
 * Preloaded into a daemon a test starts (`node --import .../memory-probe.js`), never part of the
 * product: on SIGUSR2 it runs a full garbage collection and writes one line to stderr,
 * `{"memoryProbe":{rss,heapTotal,heapUsed,external,arrayBuffers,codeUsed}}`, so that a test can tell
 * memory the program still holds (heap, array buffers) from memory the allocators merely keep (rss).
 * `codeUsed` is the part of heapUsed that is compiled code, which grows as V8 optimizes, not with data.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

process.on('SIGUSR2', () => {
  // Several passes: weak references and finalizers (external buffers) free memory one pass later.
  for (let i = 0; i < 4; i++) gc();
  const codeUsed = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'code_space')?.space_used_size ?? 0;
  process.stderr.write(`${JSON.stringify({ memoryProbe: { ...process.memoryUsage(), codeUsed } })}\n`);
});
