/** The `spark-runner` CLI (started through bin/spark-runner.js). Ctrl-C aborts requests and waits; a second one kills. */
import { run } from '../cli/program.js';

const interrupt = new AbortController();
process.once('SIGINT', () => interrupt.abort());
// `spark-runner logs ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await run(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: interrupt.signal,
});
