/**
 * Chinese titles and details of every problem the API sends. Errors are raised with an English message
 * (logs, the CLI, tests of the core read it); the HTTP layer words it in Chinese unless the request asks
 * for English. A thrower may also word its own Chinese (`DubanError.withZh`); the catalogue below covers
 * the rest, and a message it does not know gets the Chinese sentence of its status.
 */

export const TITLES_ZH: Record<number, string> = {
  400: '请求有误', 401: '未登录或登录已失效', 403: '无权操作', 404: '未找到', 405: '不支持该请求方法', 406: '无法提供所需格式',
  409: '操作冲突', 410: '已不存在', 411: '缺少内容长度', 413: '提交的内容过大', 414: '请求地址过长', 415: '不支持的内容类型', 422: '无法处理的内容',
  429: '请求过于频繁', 500: '服务器内部错误', 502: '上游服务错误', 503: '服务暂不可用', 504: '上游服务超时',
};

export const TITLES_EN: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 413: 'Payload Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** Said when nothing more specific is known: a detail in Chinese rather than an English sentence. */
const GENERIC_ZH: Record<number, string> = {
  400: '提交的内容不符合要求,请检查后重试', 401: '请先登录', 403: '当前账号无权进行此操作', 404: '要找的内容不存在或无权查看',
  409: '操作与当前状态冲突,请刷新后重试', 413: '提交的内容超过了允许的大小', 415: '请以 JSON 格式提交', 422: '提交的内容无法处理',
  429: '请求过于频繁,请稍后再试', 503: '服务暂不可用,请稍后再试',
};

export function genericZh(status: number): string {
  return GENERIC_ZH[status] ?? (status >= 500 ? '服务器发生错误,请稍后再试' : '请求未能完成');
}

const ROLE_ZH: Record<string, string> = { admin: '管理员', clerk: '窗口人员', inspector: '纪检监察员', leader: '领导', system: '系统' };
const STATUS_ZH: Record<string, string> = {
  running: '运行中', completed: '已完成', cancelled: '已撤销', failed: '已失败', handling: '办理中', suspended: '已暂停计时',
  done: '已办结', open: '未办结', closed: '已办结',
};

/** Longest first, so "process instance" wins over "instance". */
const THING_ZH: Array<[string, string]> = ([
  ['message subscription or message start event for', '消息订阅或消息开始事件'], ['case with business key', '业务编号对应的办件'],
  ['calendar override for', '日历调整'], ['process definition', '流程定义'], ['process instance', '流程实例'], ['SMS outbox row', '短信记录'],
  ['API token', 'API 令牌'], ['department', '部门'], ['supervision', '督办件'], ['incident', '异常事件'], ['user', '用户'], ['task', '任务'],
  ['item', '事项'], ['case', '办件'], ['form', '表单'],
] as Array<[string, string]>).sort((a, b) => b[0].length - a[0].length);

const roles = (list: string) => list.split(/,\s*/).map((r) => ROLE_ZH[r] ?? r).join('、');
const status = (s: string) => STATUS_ZH[s] ?? s;

type Rule = [RegExp, (...m: string[]) => string];

/** English message → Chinese. Parameters (ids, names, numbers) are kept as they are. */
const RULES: Rule[] = [
  // authentication and access
  [/^log in or send an API token$/, () => '请先登录,或携带 API 令牌'],
  [/^the API token is invalid, expired or revoked$/, () => 'API 令牌无效、已过期或已撤销'],
  [/^missing or wrong X-CSRF-Token header$/, () => '缺少 X-CSRF-Token 请求头或其值不正确,请刷新页面后重试'],
  [/^needs one of the roles: (.+)$/, (r) => `需要以下角色之一:${roles(r)}`],
  [/^needs (.+)$/, (r) => `需要以下角色之一:${roles(r.replace(/ or /g, ', '))}`],
  [/^the API token lacks the scope "(.+)"$/, (s) => `API 令牌缺少权限范围“${s}”`],
  [/^wrong username or password$/, () => '用户名或密码错误'],
  [/^Rate limit exceeded, retry in (.+)$/, (t) => `尝试次数过多,请在 ${t.replace(/(\d+) minutes?/, '$1 分钟').replace(/(\d+) seconds?/, '$1 秒')}后再试`],
  [/^this task belongs to another department$/, () => '该任务属于其他部门'],
  [/^clerks start cases of their own department only$/, () => '窗口人员只能为本部门发起办件'],
  [/^clerks take in cases for their own department.s items only$/, () => '窗口人员只能受理本部门事项的办件'],
  [/^only imports \(admin or system\) may set the intake time$/, () => '只有数据导入(管理员或系统)可以设置受理时间'],
  [/^only the handling department stops or restarts the clock$/, () => '只有承办部门可以暂停或恢复计时'],
  [/^missing or invalid X-Twilio-Signature$/, () => '缺少或无效的 X-Twilio-Signature 签名'],
  [/^status callbacks are not configured \(no TWILIO_AUTH_TOKEN\)$/, () => '未配置短信状态回调(缺少 TWILIO_AUTH_TOKEN)'],
  // people and catalogue
  [/^the password must have at least (\d+) characters$/, (n) => `密码至少需要 ${n} 个字符`],
  [/^department (.+) does not exist$/, (d) => `部门 ${d} 不存在`],
  [/^user (.+) exists$/, (u) => `用户 ${u} 已存在`],
  [/^department (.+) exists$/, (d) => `部门 ${d} 已存在`],
  [/^item (.+) exists$/, (c) => `事项 ${c} 已存在`],
  [/^the promised limit cannot exceed the statutory limit$/, () => '承诺时限不能超过法定时限'],
  [/^not inspectors: (.+)$/, (l) => `以下用户不是纪检监察员:${l}`],
  [/^(.+) is not a calendar date$/, (d) => `${d} 不是有效的日期`],
  [/^"from" must be before "to"$/, () => '开始日期(from)必须早于结束日期(to)'],
  // engine: tasks, instances, messages
  [/^the task is no longer waiting: its deadline or another event ended it first$/, () => '该任务已不再等待办理:期限已到或其他事件先结束了它'],
  [/^the task is claimed by (.+)$/, (u) => `该任务已由 ${u} 认领`],
  [/^the task was already completed$/, () => '该任务已经办结'],
  [/^the task was cancelled: its deadline or another event ended it$/, () => '该任务已取消:期限已到或其他事件结束了它'],
  [/^messageName is required$/, () => '缺少消息名称(messageName)'],
  [/^the process instance is (\w+)$/, (s) => `该流程实例${status(s)}`],
  [/^the case is already suspended$/, () => '该办件已暂停计时'],
  [/^the case is not suspended$/, () => '该办件未暂停计时'],
  [/^the case is suspended \(clock stopped\); resume it first$/, () => '该办件已暂停计时,请先恢复计时'],
  [/^the case is (\w+); only a case being handled can be suspended$/, (s) => `该办件${status(s)},只有办理中的办件可以暂停计时`],
  [/^the case is (\w+), not suspended$/, (s) => `该办件${status(s)},并未暂停计时`],
  [/^incident (.+) cannot be retried \((.+), or already resolved\)$/, (id, k) => `异常事件 ${id} 无法重试(${k},或已处理)`],
  // supervision
  [/^the supervision is (already )?closed$/, () => '该督办件已办结'],
  [/^case (.+) is still being handled: urge the department first$/, (n) => `办件 ${n} 仍在办理中:请先督促承办部门`],
  [/^no open supervision task for this case$/, () => '该办件没有待办的督办任务'],
  [/^the follow-up date lies in the past$/, () => '跟进日期已经过去'],
  // cases
  [/^a person \(applicantType 1\) uses a resident ID; a legal person \(2\) a unified social credit code$/,
    () => '自然人(申请人类型 1)使用居民身份证号码,法人(类型 2)使用统一社会信用代码'],
  // diagrams and forms
  [/^the diagram was refused: (\d+) problem\(s\)(?:, first: ([\s\S]*))?$/, (n, first) => `流程图未通过校验:共 ${n} 个问题${first ? `,第一个:${first}` : ''}`],
  [/^the diagram has (\d+) bytes; at most (\d+) are accepted$/, (b, l) => `流程图有 ${b} 字节,最多接受 ${l} 字节`],
  [/^the diagram has more than (\d+) elements$/, (l) => `流程图的元素超过 ${l} 个`],
  [/^the diagram nests elements deeper than (\d+) levels$/, (l) => `流程图的元素嵌套超过 ${l} 层`],
  [/^validating the diagram took longer than (\d+) s; simplify it or split it into called processes$/, (s) => `流程图校验超过 ${s} 秒:请简化,或拆分为子流程调用`],
  [/^the form was refused: ([\s\S]+)$/, (p) => `表单未通过校验:${formProblemZh(p)}`],
  // input guards (input.ts, paging.ts)
  [/^the JSON body is nested deeper than (\d+) levels$/, (l) => `提交的 JSON 嵌套超过 ${l} 层`],
  [/^(\S+) contains a NUL byte or an unpaired UTF-16 surrogate$/, (f) => `${f} 含有空字符(NUL)或不成对的 UTF-16 代理字符`],
  [/^variable "(.+)" has (\d+) bytes; at most (\d+) are accepted per variable$/, (v, b, l) => `变量“${v}”有 ${b} 字节,每个变量最多 ${l} 字节`],
  [/^the variables have (\d+) bytes together; at most (\d+) are accepted per command$/, (b, l) => `变量合计 ${b} 字节,每次操作最多 ${l} 字节`],
  [/^page and pageSize must be positive integers$/, () => '页码(page)和每页条数(pageSize)必须是正整数'],
  // fastify and its plugins
  [/^Request body is too large$/, () => '提交的内容超过了允许的大小'],
  [/^Unsupported Media Type: ?(.*)$/, (t) => `不支持的内容类型${t ? `:${t}` : ''},请以 JSON 格式提交`],
  [/^Body cannot be empty when content-type is set to 'application\/json'$/, () => '内容类型为 application/json 时,请求内容不能为空'],
  [/^Object contains forbidden prototype property$/, () => '提交的 JSON 含有不允许的属性(__proto__)'],
  [/^Object contains forbidden constructor property$/, () => '提交的 JSON 含有不允许的属性(constructor)'],
  [/^(Unexpected .*|.* is not valid JSON.*|Expected .* in JSON at position .*|Unterminated string in JSON.*)$/, () => '提交的内容不是有效的 JSON'],
  [/^'([\s\S]*)' is exceeding the max param length$/, () => '请求地址中的参数过长'],
  [/^'([\s\S]*)' is not a valid url component$/, () => '请求地址中含有无效的字符'],
  [/^no route for (\S+) (.+)$/, (m, p) => `没有这个接口:${m} ${p}`],
  [/^an unexpected error occurred; it has been logged$/, () => '发生意外错误,已记录日志'],
  [/^the database does not answer$/, () => '数据库没有响应'],
];

function formProblemZh(p: string): string {
  const rules: Rule[] = [
    [/^(.+): groups nest deeper than (\d+)$/, (w, n) => `${w}:分组嵌套超过 ${n} 层`],
    [/^(.+): a component needs a "type"$/, (w) => `${w}:组件缺少“type”`],
    [/^(.+): component type "(.+)" is not allowed in task forms$/, (w, t) => `${w}:任务表单不允许使用“${t}”组件`],
    [/^(.+): the key must be a variable name \(letters, digits, _\)$/, (w) => `${w}:字段键必须是变量名(字母、数字、下划线)`],
    [/^(.+): the key "(.+)" is used twice$/, (w, k) => `${w}:字段键“${k}”重复使用`],
    [/^(.+): only groups and dynamic lists hold components$/, (w) => `${w}:只有分组和动态列表可以包含组件`],
    [/^the form has more than (\d+) components$/, (n) => `表单组件超过 ${n} 个`],
  ];
  return applyRules(rules, p) ?? p;
}

function applyRules(rules: Rule[], message: string): string | null {
  for (const [re, zh] of rules) {
    const m = re.exec(message);
    if (m) return zh(...m.slice(1).map((x) => x ?? ''));
  }
  return null;
}

/** "<thing> <id> does not exist", for every kind of thing. */
function notFoundZh(message: string): string | null {
  const m = /^([\s\S]+) does not exist$/.exec(message);
  if (!m) return null;
  for (const [en, zh] of THING_ZH) {
    if (m[1]!.startsWith(`${en} `)) return `${zh} ${m[1]!.slice(en.length + 1)} 不存在`;
  }
  return null;
}

/** The Chinese detail for an English message, or null when the catalogue does not know it. */
export function detailZh(message: string): string | null {
  return notFoundZh(message) ?? applyRules(RULES, message);
}

const TYPE_ZH: Record<string, string> = { string: '文本', integer: '整数', number: '数字', boolean: '布尔值', object: '对象', array: '数组', null: '空值' };

export interface AjvIssue {
  keyword: string;
  instancePath: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** One JSON-schema validation failure in Chinese (ajv's keyword and parameters, not its English text). */
export function validationZh(v: AjvIssue): string {
  const p = v.params ?? {};
  switch (v.keyword) {
    case 'required': return `缺少必填字段 ${String(p.missingProperty)}`;
    case 'type': return `应为${String(p.type).split(',').map((t) => TYPE_ZH[t] ?? t).join('或')}`;
    case 'minLength': return `长度不能少于 ${String(p.limit)} 个字符`;
    case 'maxLength': return `长度不能超过 ${String(p.limit)} 个字符`;
    case 'minimum': case 'exclusiveMinimum': return `不能小于${v.keyword === 'exclusiveMinimum' ? '或等于' : ''} ${String(p.limit)}`;
    case 'maximum': case 'exclusiveMaximum': return `不能大于${v.keyword === 'exclusiveMaximum' ? '或等于' : ''} ${String(p.limit)}`;
    case 'minItems': return `至少需要 ${String(p.limit)} 项`;
    case 'maxItems': return `最多 ${String(p.limit)} 项`;
    case 'minProperties': return `至少需要 ${String(p.limit)} 个字段`;
    case 'maxProperties': return `最多 ${String(p.limit)} 个字段`;
    case 'uniqueItems': return '不能有重复项';
    case 'additionalProperties': return `不允许的字段 ${String(p.additionalProperty)}`;
    case 'format': return `格式应为 ${String(p.format)}`;
    case 'pattern': return '格式不正确';
    case 'enum': case 'const': case 'anyOf': case 'oneOf': return '取值不在允许的范围内';
    default: return '取值无效';
  }
}
