import { ServiceRegistry } from './engine/services.js';
import { renderTemplate, type SmsProvider } from './notify/sms.js';
import { createSmsProviderFromEnv } from './notify/twilio.js';
import { SmsPolicy } from './notify/policy.js';
import type { Db } from './db/database.js';
import { registerFollowUpService, registerSupervisionServices } from './domain/supervision/supervision.js';

export interface ServiceRegistryOptions {
  /** The SMS provider; default from the environment (Twilio with credentials, else the log provider). */
  sms?: SmsProvider;
  print?: (line: string) => void;
  /** Needed for the SMS sending rules (daily limit, quiet hours, repeats); without it none apply. */
  db?: Db;
  /** The SMS sending rules; default from the environment when `db` is given. */
  smsPolicy?: SmsPolicy;
  env?: NodeJS.ProcessEnv;
}

/**
 * The services a diagram may call, by name: the one registry of the server, the CLI and the tests
 * (a deploy checks names against it, so the CLI must know every service the shipped diagrams use).
 * Handlers only compute and enqueue; deliveries (the outside world) run after commit from the outbox.
 */
export function createServiceRegistry(opts: ServiceRegistryOptions = {}): ServiceRegistry {
  const env = opts.env ?? process.env;
  const sms = opts.sms ?? createSmsProviderFromEnv(env, opts.print ?? ((l) => console.log(l)));
  const db = opts.db;
  const policy = db ? (opts.smsPolicy ?? SmsPolicy.fromEnv(env)) : null;
  const registry = new ServiceRegistry();

  registry.register({
    name: 'sendSms',
    description: 'Send an SMS from a named template (input: to, template, the template variables, and optionally escalation: one message per case, template, escalation and number)',
    handler: (ctx) => {
      const { to, template, ...vars } = { ...ctx.variables, ...ctx.input } as Record<string, unknown>;
      if (typeof to !== 'string' || !to) throw new Error('sendSms needs "to"');
      const name = typeof template === 'string' ? template : 'overdue';
      const strings = Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== null && typeof v !== 'object').map(([k, v]) => [k, String(v)]));
      renderTemplate(name, strings); // fail inside the command, not later in the outbox
      ctx.enqueue('sms', { to, template: name, vars: strings }, smsDedupKey(ctx.businessKey ?? ctx.instanceId, name, strings.escalation, to));
      return { smsQueued: true };
    },
  });

  // At most once: the attempt is committed before the provider is called, so a crash mid-send
  // becomes an incident rather than a second message. Deferrals (quiet hours, limits) cost no attempt.
  registry.registerDelivery('sms', async (payload, meta) => {
    const to = String(payload.to);
    const template = String(payload.template);
    const vars = payload.vars as Record<string, string>;
    const text = renderTemplate(template, vars);
    if (policy && db) await policy.check(db, to, text, { outboxId: meta.outboxId, template, vars });
    return { ...(await sms.send({ to, template, vars, text }, meta.dedupKey, { outboxId: meta.outboxId })) };
  }, 'atMostOnce');

  // The domain's services (yellow light, red light and supervision, follow-up reminders).
  registerSupervisionServices(registry);
  registerFollowUpService(registry);
  return registry;
}

/**
 * One overdue SMS per case and escalation (to each number): a timer that fires again, or a step that
 * runs twice, does not send it twice. Other templates without an escalation level keep the engine's
 * default key (one per execution of the step).
 */
export function smsDedupKey(caseKey: string, template: string, escalation: string | undefined, to: string): string | undefined {
  if (escalation === undefined && template !== 'overdue') return undefined;
  return `sms:${caseKey}:${template}:${escalation ?? '-'}:${to}`;
}
