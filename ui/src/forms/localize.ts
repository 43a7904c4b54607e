import type { Form } from '@bpmn-io/form-js-viewer';
import { getLang } from '../i18n';

/**
 * form-js writes its validation messages in English only. Its validator is a service of the form's
 * injector, so we wrap that one service rather than fork the viewer.
 */
const ZH: [RegExp, string][] = [
  [/^Field is required\.$/, '此项必填。'],
  [/^Field must have minimum length of (\d+)\.$/, '至少 $1 个字符。'],
  [/^Field must have maximum length of (\d+)\.$/, '最多 $1 个字符。'],
  [/^Field must have minimum value of (.+)\.$/, '不能小于 $1。'],
  [/^Field must have maximum value of (.+)\.$/, '不能大于 $1。'],
  [/^Value is not a number\.$/, '请输入数字。'],
  [/^Field must be a valid email\.$/, '请输入有效的电子邮箱。'],
  [/^Field must be a valid +international phone number.*$/, '请输入有效的电话号码(如 +8613800000000)。'],
  [/^Field must match pattern (.+)\.$/, '格式不符合要求:$1'],
];

export function translateValidation(message: string): string {
  for (const [re, zh] of ZH) if (re.test(message)) return message.replace(re, zh);
  return message;
}

type ValidatorLike = Record<'validateField' | 'validateFieldInstance', (...args: unknown[]) => string[]>;

export function localizeValidation(form: Form): void {
  if (getLang() !== 'zh') return;
  const validator = form.get('validator') as ValidatorLike;
  for (const method of ['validateField', 'validateFieldInstance'] as const) {
    const original = validator[method].bind(validator);
    validator[method] = (...args) => original(...args).map(translateValidation);
  }
}
