/**
 * SMS providers behind one interface with named templates, so a domestic gateway can join Twilio.
 * The `log` provider is the default without credentials: it records and prints the message.
 */
export interface SmsMessage {
  to: string;
  template: string;
  vars: Record<string, string>;
}

export interface SmsResult {
  provider: string;
  providerId: string;
  text: string;
  status: string;
}

/** Where the message comes from: the outbox row, so a provider's delivery report can find it again. */
export interface SmsSendMeta {
  outboxId?: number;
}

export interface SmsProvider {
  readonly name: string;
  send(message: SmsMessage & { text: string }, idempotencyKey: string, meta?: SmsSendMeta): Promise<SmsResult>;
}

export const SMS_TEMPLATES: Record<string, string> = {
  overdue: '政务服务网{item}的业务办理已经超时,业务编号:{number},请及时登录系统跟踪督察。',
  warning: '{item}(业务编号:{number})将于{deadline}到期,请抓紧办理。',
  urge: '督办通知:{item}(业务编号:{number})已超期,请于{deadline}前办结并回告。',
  stepOverdue: '{item}(业务编号:{number})的“{step}”环节已超过环节时限,请尽快办理。',
  followup: '督办件{supervision}({item},业务编号:{number})已到跟进时间,请及时登录系统跟踪督察。',
  letterOverdue: '{letter}的回复时限已到,{recipient}尚未书面回复,请及时跟踪督办。',
  ratingWarning: '“好差评”差评处置提醒:{item}(业务编号:{number})须于{deadline}前完成回访和整改。',
  ratingOverdue: '“好差评”差评处置已超期:{item}(业务编号:{number}),请及时登录系统跟踪督察。',
  projectReminder: '提醒函{letter}:{project}“{milestone}”节点已超过完成时限,请于{replyBy}前回告整改措施和完成时间。进度填报:{link}',
  projectEscalated: '重点项目{project}“{milestone}”节点回告后再次逾期,已发{letter},请及时登录系统跟踪督察。',
  ratingFeedback: '您对{item}(业务编号:{number})的评价已处理:{result}。感谢您的监督。',
};

export function renderTemplate(template: string, vars: Record<string, string>): string {
  const text = SMS_TEMPLATES[template];
  if (!text) throw new Error(`unknown SMS template "${template}"`);
  return text.replace(/\{(\w+)\}/g, (_m, k: string) => {
    if (!(k in vars)) throw new Error(`SMS template "${template}" needs {${k}}`);
    return vars[k]!;
  });
}

export class LogSmsProvider implements SmsProvider {
  readonly name = 'log';
  constructor(private readonly print: (line: string) => void) {}

  async send(message: SmsMessage & { text: string }, idempotencyKey: string, meta: SmsSendMeta = {}): Promise<SmsResult> {
    this.print(`[sms:log]${meta.outboxId === undefined ? '' : ` #${meta.outboxId}`} to ${message.to}: ${message.text}`);
    return { provider: this.name, providerId: `log-${idempotencyKey}`, text: message.text, status: 'delivered' };
  }
}
