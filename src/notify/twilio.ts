import twilio from 'twilio';
import type SdkRequestClient from 'twilio/lib/base/RequestClient.js';
import { LogSmsProvider, type SmsMessage, type SmsProvider, type SmsResult, type SmsSendMeta } from './sms.js';

/**
 * Twilio behind the SmsProvider interface, through the official SDK (v5).
 * Settings come from the environment (README): TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM or
 * TWILIO_MESSAGING_SERVICE_SID, optionally TWILIO_API_BASE (another origin for every REST call, e.g. a
 * local fake in tests) and DUBAN_PUBLIC_URL (where Twilio posts delivery reports).
 */
export interface TwilioSettings {
  accountSid: string;
  authToken: string;
  from?: string;
  messagingServiceSid?: string;
  /** Send every SDK request to this origin (and path prefix) instead of https://*.twilio.com. */
  apiBase?: string;
  /** Duban's public URL; the status callback is `${publicUrl}/api/sms/status?outbox=<id>`. Omitted when unset. */
  publicUrl?: string;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
}

/**
 * A provider failure; the outbox counts it as an attempt (retried with backoff, then an incident an admin
 * can retry). `permanent` marks rejections no retry fixes — a 4xx such as 21211 invalid number, 21610
 * unsubscribed, 21408 region not enabled, 20003 bad credentials — as opposed to 408/429/5xx and the network.
 */
export class SmsSendError extends Error {
  constructor(message: string, readonly code: number | null, readonly httpStatus: number | null, readonly permanent: boolean) {
    super(message);
    this.name = 'SmsSendError';
  }
}

export function twilioSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TwilioSettings | null {
  const accountSid = env.TWILIO_ACCOUNT_SID?.trim();
  const authToken = env.TWILIO_AUTH_TOKEN?.trim();
  const from = env.TWILIO_FROM?.trim() || undefined;
  const messagingServiceSid = env.TWILIO_MESSAGING_SERVICE_SID?.trim() || undefined;
  if (!accountSid || !authToken || !(from || messagingServiceSid)) return null;
  return {
    accountSid, authToken, from, messagingServiceSid,
    apiBase: env.TWILIO_API_BASE?.trim() || undefined,
    publicUrl: env.DUBAN_PUBLIC_URL?.trim() || undefined,
  };
}

/**
 * The SDK's own HTTP client, with every request's origin replaced by `base` (scheme, host, port, and
 * a path prefix if any). The SDK builds absolute https://api.twilio.com/... URIs per domain; this is
 * the one place all of them pass, so Messages, Accounts and everything else follow.
 */
export class RebasedRequestClient extends twilio.RequestClient {
  private readonly base: URL;

  constructor(base: string, opts?: SdkRequestClient.RequestClientOptions) {
    super(opts);
    this.base = new URL(base);
    if (!/^https?:$/.test(this.base.protocol)) throw new Error(`TWILIO_API_BASE must be an http(s) URL, not ${base}`);
    // The account credentials travel with every request: plain http only to this machine.
    if (this.base.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(this.base.hostname)) {
      throw new Error(`TWILIO_API_BASE over plain http is allowed only on loopback, not ${this.base.host}`);
    }
  }

  override request<TData>(opts: SdkRequestClient.RequestOptions<TData>) {
    const original = new URL(opts.uri);
    const prefix = this.base.pathname.replace(/\/+$/, '');
    const uri = new URL(`${prefix}${original.pathname}${original.search}`, this.base.origin);
    return super.request<TData>({ ...opts, uri: uri.href });
  }
}

export class TwilioSmsProvider implements SmsProvider {
  readonly name = 'twilio';
  private readonly client: twilio.Twilio;

  constructor(private readonly settings: TwilioSettings) {
    if (!settings.from && !settings.messagingServiceSid) throw new Error('Twilio needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID');
    const timeout = settings.timeoutMs ?? 15_000;
    this.client = twilio(settings.accountSid, settings.authToken, {
      timeout,
      autoRetry: false, // the outbox retries, with backoff and a record of every attempt
      ...(settings.apiBase ? { httpClient: new RebasedRequestClient(settings.apiBase, { timeout }) } : {}),
    });
  }

  /** The callback URL Twilio posts delivery reports to for this outbox row (null without DUBAN_PUBLIC_URL). */
  statusCallbackFor(outboxId: number | undefined): string | null {
    if (!this.settings.publicUrl || outboxId === undefined) return null;
    return `${this.settings.publicUrl.replace(/\/+$/, '')}/api/sms/status?outbox=${outboxId}`;
  }

  async send(message: SmsMessage & { text: string }, _idempotencyKey: string, meta: SmsSendMeta = {}): Promise<SmsResult> {
    const statusCallback = this.statusCallbackFor(meta.outboxId);
    let created: { sid: string; status: string };
    try {
      created = await this.client.messages.create({
        to: message.to,
        body: message.text,
        ...(this.settings.messagingServiceSid ? { messagingServiceSid: this.settings.messagingServiceSid } : { from: this.settings.from! }),
        ...(statusCallback ? { statusCallback } : {}),
      });
    } catch (err) {
      throw toSendError(err);
    }
    return { provider: this.name, providerId: created.sid, text: message.text, status: String(created.status) };
  }
}

/** Twilio REST errors carry the HTTP status and a Twilio error code; anything else is the network. */
export function toSendError(err: unknown): SmsSendError {
  const e = err as { status?: unknown; code?: unknown; message?: unknown; moreInfo?: unknown };
  if (typeof e?.status === 'number') {
    const code = typeof e.code === 'number' ? e.code : null;
    const permanent = e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429;
    const kind = e.status === 429 ? 'rate limited' : e.status >= 500 ? 'server error' : permanent ? 'rejected' : 'error';
    return new SmsSendError(`twilio ${kind}: HTTP ${e.status}${code !== null ? ` code ${code}` : ''}: ${String(e.message ?? '')}`.trim(), code, e.status, permanent);
  }
  const netCode = typeof e?.code === 'string' ? ` (${e.code})` : '';
  return new SmsSendError(`twilio request failed${netCode}: ${String(e?.message ?? err)}`, null, null, false);
}

/** Twilio when its credentials and a sender are configured, else the log provider. */
export function createSmsProviderFromEnv(env: NodeJS.ProcessEnv = process.env, print: (line: string) => void = (l) => console.log(l)): SmsProvider {
  const settings = twilioSettingsFromEnv(env);
  return settings ? new TwilioSmsProvider(settings) : new LogSmsProvider(print);
}
