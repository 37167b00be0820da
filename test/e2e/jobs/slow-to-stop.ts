// A job that takes forever to stop: its sink's close() never finishes (as a state backend busy
// flushing to a slow disk would). Writes "sink open" to stderr once it runs.
import type { StreamEnvironment } from 'floe';

export default (env: StreamEnvironment) => {
  env
    .fromGenerator((i) => i, { eventsPerSecond: 1000 })
    .addSink({
      open() {
        process.stderr.write('sink open\n');
      },
      invoke() {},
      close() {
        return new Promise<void>(() => {
          setInterval(() => {}, 1000); // busy, never done
        });
      },
    });
};
