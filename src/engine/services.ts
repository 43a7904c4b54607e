import type { Knex } from 'knex';

/**
 * Service tasks bind by name to this registry, never to code in a diagram.
 * In BPMN: `<serviceTask camunda:type="external" camunda:topic="notifyDepartment">` (or a send task).
 * A handler runs inside the command's transaction, so it must not touch the outside world:
 * outside effects go through `ctx.enqueue`, which writes to the transactional outbox.
 */
export interface ServiceContext {
  instanceId: string;
  businessKey: string | null;
  elementId: string;
  executionId: string;
  variables: Readonly<Record<string, unknown>>;
  /** camunda:inputOutput input parameters and camunda:properties of the element, resolved. */
  input: Readonly<Record<string, unknown>>;
  /** Queue an outside effect; delivered after commit, once per dedup key. */
  enqueue(delivery: string, payload: Record<string, unknown>, dedupKey?: string): void;
  /** The command's transaction: domain rows written here commit or roll back with the step. */
  trx?: Knex.Transaction;
}

/** Synchronous, or async when it needs the database; never an outside effect (use enqueue). */
export type ServiceHandler = (ctx: ServiceContext) => Record<string, unknown> | void | Promise<Record<string, unknown> | void>;

export interface ServiceDefinition {
  name: string;
  description: string;
  handler: ServiceHandler;
}

/** Raised by a handler to take a BPMN error boundary (errorCode matches the error's code). */
export class BpmnServiceError extends Error {
  constructor(readonly errorCode: string, message?: string) {
    super(message ?? errorCode);
  }
}

export type DeliveryHandler = (payload: Record<string, unknown>, meta: { dedupKey: string; outboxId: number; attempt: number }) =>
  Promise<Record<string, unknown> | void>;

/**
 * `atLeastOnce` (default): the row stays locked while delivering; a crash repeats the delivery with
 * the same dedup key (for receivers that honour an idempotency key).
 * `atMostOnce`: the attempt is committed before the provider is called; a crash leaves the row
 * "sending", which becomes an incident instead of a second message (for SMS: never twice).
 */
export type DeliveryMode = 'atLeastOnce' | 'atMostOnce';

/** Thrown by a delivery to try again later without counting an attempt (quiet hours, rate limits). */
export class DeferDelivery extends Error {
  constructor(readonly until: Date, reason: string) {
    super(reason);
  }
}

export class ServiceRegistry {
  private readonly services = new Map<string, ServiceDefinition>();
  private readonly deliveries = new Map<string, DeliveryHandler>();
  private readonly modes = new Map<string, DeliveryMode>();

  register(def: ServiceDefinition): this {
    this.services.set(def.name, def);
    return this;
  }

  registerDelivery(name: string, handler: DeliveryHandler, mode: DeliveryMode = 'atLeastOnce'): this {
    this.deliveries.set(name, handler);
    this.modes.set(name, mode);
    return this;
  }

  get(name: string): ServiceDefinition | undefined {
    return this.services.get(name);
  }

  has(name: string): boolean {
    return this.services.has(name);
  }

  delivery(name: string): DeliveryHandler | undefined {
    return this.deliveries.get(name);
  }

  deliveryMode(name: string): DeliveryMode {
    return this.modes.get(name) ?? 'atLeastOnce';
  }

  names(): string[] {
    return [...this.services.keys()].sort();
  }

  list(): Array<Pick<ServiceDefinition, 'name' | 'description'>> {
    return this.names().map((n) => ({ name: n, description: this.services.get(n)!.description }));
  }
}
