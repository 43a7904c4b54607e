import { getLang, t } from '../i18n';
import { readsChinese, type Problem } from '../api';

/** bpmnlint's and the engine's checks, in Chinese: the rule's own English stays available as the tooltip. */
const KNOWN: [RegExp, string][] = [
  [/^Element is missing label\/name$/, '元素缺少名称'],
  [/^Element is missing name$/, '元素缺少名称'],
  [/^Element is not connected$/, '元素没有连线'],
  [/^Element is missing bpmndi$/, '元素缺少图形信息'],
  [/^Element is an implicit end$/, '元素没有出口,流程在此隐式结束(建议连到结束事件)'],
  [/^Element is an implicit start$/, '元素没有入口,流程从此隐式开始(建议从开始事件连入)'],
  [/^Flow splits implicitly$/, '流程在此隐式分叉(建议使用网关)'],
  [/^Gateway forks and joins$/, '网关既汇合又分叉(建议拆成两个网关)'],
  [/^Incoming flows do not join$/, '多条入口连线没有经网关汇合'],
  [/^Gateway is superfluous/, '网关多余:只有一个入口和一个出口'],
  [/^Sequence flow is missing condition$/, '连线缺少流转条件'],
  [/^Sequence flow has superfluous label$/, '连线的标签多余'],
  [/is missing start event$/, '缺少开始事件'],
  [/is missing end event$/, '缺少结束事件'],
  [/has multiple blank start events$/, '有多个空白开始事件'],
  [/^Start event must be blank$/, '开始事件必须是空白开始事件'],
  [/^Start event is missing event definition$/, '开始事件缺少事件定义'],
  [/^Element overlaps with other element$/, '元素与其他元素重叠'],
  [/^Element is outside of parent boundary$/, '元素超出了上级范围'],
  [/^Element name is not unique$/, '元素名称重复'],
  [/^Termination is superfluous\.?$/, '终止结束事件多余'],
  [/^Duplicate (incoming|outgoing) sequence flows$/, '重复的连线'],
  [/^SequenceFlow is a duplicate$/, '重复的连线'],
  [/^Event has multiple event definitions$/, '事件有多个事件定义'],
  [/^Element type <.*> is discouraged$/, '不建议使用这种元素类型'],
  [/^Element has disallowed type/, '不支持这种元素类型'],
  [/script/i, '不允许脚本:图中的代码不会执行'],
  [/listener/i, '不允许监听器'],
  [/camunda:(class|expression|delegateExpression)/, '不允许类、表达式或委托表达式实现'],
  [/unknown (service|topic)|topic/i, '未知的服务主题'],
  [/no executable process|not executable/i, '缺少可执行的流程'],
  [/timer/i, '定时器的时间值无效'],
];

const SOURCE: Record<string, string> = { lint: '建模规范', xml: '文件格式', model: '模型', engine: '引擎', structure: '结构', security: '安全' };

export function problemLabel(p: Problem): string {
  if (getLang() === 'en' || readsChinese(p.message)) return p.message;
  const hit = KNOWN.find(([re]) => re.test(p.message));
  if (hit) return hit[1];
  return t('designer.problem.other', { source: SOURCE[p.source] ?? t('designer.problems') });
}
