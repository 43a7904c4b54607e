import type { Db } from './db/database.js';
import { WorkflowEngine } from './engine/engine.js';
import type { ServiceRegistry } from './engine/services.js';
import { appendAudit } from './audit/audit.js';
import { loadConfig } from './config.js';
import { calendarCache, type CalendarCache } from './calendar/calendar.js';
import { calendarFunctions } from './calendar/feel.js';
import { createServiceRegistry, type ServiceRegistryOptions } from './services.js';
import { SupervisionService } from './domain/supervision/supervision.js';
import { CaseService } from './domain/cases/cases.js';
import { registerCaseServices } from './domain/cases/services.js';
import { FormStore } from './forms/forms.js';
import { LetterService, registerLetterServices } from './domain/letters/letters.js';
import { RatingIntake } from './domain/ratings/intake.js';
import { registerRatingServices } from './domain/ratings/loop.js';
import { ProjectService } from './domain/projects/projects.js';
import { registerProjectServices } from './domain/projects/services.js';

/** Everything a server process, a CLI command or a test runs on one database, wired in one place. */
export interface Runtime {
  db: Db;
  services: ServiceRegistry;
  engine: WorkflowEngine;
  calendars: CalendarCache;
  cases: CaseService;
  supervisions: SupervisionService;
  forms: FormStore;
  letters: LetterService;
  ratings: RatingIntake;
  projects: ProjectService;
}

export async function createRuntime(db: Db, opts: Omit<ServiceRegistryOptions, 'db'> = {}): Promise<Runtime> {
  const calendars = calendarCache(db);
  await calendars.get();
  const services = createServiceRegistry({ ...opts, db });
  // The letter-reply watch starts a process from the outbox, so it needs the engine built below.
  let engineRef: WorkflowEngine | undefined;
  registerLetterServices(services, () => engineRef!);
  registerRatingServices(services, () => engineRef!, calendars);
  let projectsRef: ProjectService | undefined;
  const publicUrl = (opts.env ?? process.env).DUBAN_PUBLIC_URL?.replace(/\/+$/, '') ?? `http://localhost:${(opts.env ?? process.env).PORT ?? 3000}`;
  registerProjectServices(services, { calendars, projects: () => projectsRef!, publicUrl });
  registerCaseServices(services, calendars);
  const engine = new WorkflowEngine(db, services, {
    audit: appendAudit,
    executionCache: loadConfig(opts.env ?? process.env).executionCache,
    // Diagrams may say "N working days" in FEEL: <timeDate>=workingDays(2)</timeDate>.
    functions: calendarFunctions(() => calendars.current()),
    // The case shows a failed process (an uncaught BPMN error); the incident names the error and element.
    onFailed: async (trx, instanceId, error) => {
      await trx('cases').where({ id: instanceId }).whereIn('status', ['handling', 'suspended']).update({ status: 'failed', result: `流程异常终止:${error}`.slice(0, 1000) });
      await trx('case_suspensions').where({ case_id: instanceId }).whereNull('ended_at').update({ ended_at: trx.raw('now()') });
    },
    onCancelled: async (trx, instanceId, reason) => {
      await trx('cases').where({ id: instanceId }).whereIn('status', ['handling', 'suspended']).update({ status: 'cancelled', result: reason ?? '撤销', result_code: '2', clock_stopped_at: null });
      await trx('case_suspensions').where({ case_id: instanceId }).whereNull('ended_at').update({ ended_at: trx.raw('now()') });
      await trx('supervisions').where({ case_id: instanceId, status: 'open' }).update({ status: 'closed', closed_at: trx.raw('now()'), result: `办件已撤销:${reason ?? ''}` });
    },
  });
  engineRef = engine;
  projectsRef = new ProjectService(db, engine, calendars);
  return { db, services, engine, calendars, projects: projectsRef, letters: new LetterService(db, calendars), ratings: new RatingIntake(db, calendars), cases: new CaseService(db, engine, calendars), supervisions: new SupervisionService(db, engine), forms: new FormStore(db) };
}
