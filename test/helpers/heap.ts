import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
// A gc function bound in a fresh context: works without starting node with --expose-gc.
const gc = vm.runInNewContext('gc') as () => void;

/** Heap bytes still reachable after a full collection. */
export function retainedHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
