import { ServiceRegistry } from './engine/services.js';
import { LogSmsProvider, renderTemplate, type SmsProvider } from './notify/sms.js';

/**
 * The services a diagram may call, by name. Handlers only compute and enqueue; deliveries
 * (the outside world) run after commit from the outbox.
 */
export function createServiceRegistry(opts: { sms?: SmsProvider; print?: (line: string) => void } = {}): ServiceRegistry {
  const sms = opts.sms ?? new LogSmsProvider(opts.print ?? ((l) => console.log(l)));
  const registry = new ServiceRegistry();

  registry.register({
    name: 'sendSms',
    description: 'Send an SMS from a named template (input: to, template, and the template variables)',
    handler: (ctx) => {
      const { to, template, ...vars } = { ...ctx.variables, ...ctx.input } as Record<string, unknown>;
      if (typeof to !== 'string' || !to) throw new Error('sendSms needs "to"');
      const name = typeof template === 'string' ? template : 'overdue';
      const strings = Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== null && typeof v !== 'object').map(([k, v]) => [k, String(v)]));
      renderTemplate(name, strings); // fail inside the command, not later in the outbox
      ctx.enqueue('sms', { to, template: name, vars: strings });
      return { smsQueued: true };
    },
  });

  registry.registerDelivery('sms', async (payload, meta) => {
    const vars = payload.vars as Record<string, string>;
    const text = renderTemplate(String(payload.template), vars);
    return { ...(await sms.send({ to: String(payload.to), template: String(payload.template), vars, text }, meta.dedupKey)) };
  });

  return registry;
}
