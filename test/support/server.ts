import { spawn, type ChildProcess } from 'node:child_process';

export interface RunningServer {
  child: ChildProcess;
  output: () => string;
}

/**
 * Start `duban start` as a real child process and resolve once it prints its URL; rejects with the
 * output when it exits first or takes longer than `timeoutMs`.
 */
export function startDubanServer(
  env: NodeJS.ProcessEnv,
  opts: { args?: string[]; timeoutMs?: number; track?: ChildProcess[]; execArgv?: string[] } = {},
): Promise<RunningServer> {
  const argv = ['--import', 'tsx', ...(opts.execArgv ?? []), 'src/cli.ts', 'start', ...(opts.args ?? [])];
  const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  opts.track?.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), opts.timeoutMs ?? 120_000);
    child.stdout!.on('data', () => {
      if (out.includes('is running at')) {
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
}
