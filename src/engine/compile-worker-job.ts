import { parentPort } from 'node:worker_threads';
import { compile } from './compile.js';
import { ServiceRegistry } from './services.js';

interface Request {
  id: number;
  xml: string;
  /** The names the main thread's registry knows; compile only asks whether a name exists. */
  services: string[];
  lint?: boolean;
}

export function listen(): void {
  parentPort!.on('message', (req: Request) => {
    const services = new ServiceRegistry();
    for (const name of req.services) services.register({ name, description: '', handler: () => undefined });
    compile(req.xml, { services, lint: req.lint }).then(
      (result) => parentPort!.postMessage({ id: req.id, result }),
      (err: unknown) => parentPort!.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}
