import type { Db } from './db/database.js';
import { WorkflowEngine } from './engine/engine.js';
import type { ServiceRegistry } from './engine/services.js';
import { appendAudit } from './audit/audit.js';
import { calendarCache, type CalendarCache } from './calendar/calendar.js';
import { calendarFunctions } from './calendar/feel.js';
import { createServiceRegistry, type ServiceRegistryOptions } from './services.js';
import { SupervisionService } from './domain/supervision/supervision.js';
import { CaseService } from './domain/cases/cases.js';
import { FormStore } from './forms/forms.js';

/** Everything a server process, a CLI command or a test runs on one database, wired in one place. */
export interface Runtime {
  db: Db;
  services: ServiceRegistry;
  engine: WorkflowEngine;
  calendars: CalendarCache;
  cases: CaseService;
  supervisions: SupervisionService;
  forms: FormStore;
}

export async function createRuntime(db: Db, opts: Omit<ServiceRegistryOptions, 'db'> = {}): Promise<Runtime> {
  const calendars = calendarCache(db);
  await calendars.get();
  const services = createServiceRegistry({ ...opts, db });
  const engine = new WorkflowEngine(db, services, {
    audit: appendAudit,
    // Diagrams may say "N working days" in FEEL: <timeDate>=workingDays(2)</timeDate>.
    functions: calendarFunctions(() => calendars.current()),
    onCancelled: async (trx, instanceId, reason) => {
      await trx('cases').where({ id: instanceId }).whereIn('status', ['handling', 'suspended']).update({ status: 'cancelled', result: reason ?? '撤销' });
      await trx('case_suspensions').where({ case_id: instanceId }).whereNull('ended_at').update({ ended_at: trx.raw('now()') });
      await trx('supervisions').where({ case_id: instanceId, status: 'open' }).update({ status: 'closed', closed_at: trx.raw('now()'), result: `办件已撤销:${reason ?? ''}` });
    },
  });
  return { db, services, engine, calendars, cases: new CaseService(db, engine, calendars), supervisions: new SupervisionService(db, engine), forms: new FormStore(db) };
}
