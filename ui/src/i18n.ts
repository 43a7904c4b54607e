import { useSyncExternalStore } from 'react';
import { projectsEn, projectsZh } from './i18n/projects';

/** Every text of the UI goes through t(): Chinese by default, English by the switch in the header. */
export type Lang = 'zh' | 'en';

const zh = {
  'app.title': '督办',
  'app.subtitle': '政务服务督办平台',
  'nav.tasks': '待办任务',
  'nav.cases': '办件',
  'nav.supervisions': '督办台',
  'nav.dashboard': '驾驶舱',
  'nav.designer': '流程设计',
  'nav.items': '事项目录',
  'nav.calendar': '节假日',
  'nav.users': '用户与部门',
  'nav.roster': '值班表',
  'nav.forms': '表单设计',
  'nav.logout': '退出',
  'lang.switch': 'English',
  'login.title': '登录督办平台',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.failed': '登录失败',
  'login.demo': '演示账号密码:duban-demo-2026(admin、market.clerk、inspector、leader 等)',
  'role.admin': '管理员', 'role.clerk': '窗口/部门经办人', 'role.inspector': '纪检监察', 'role.leader': '领导', 'role.system': '系统',
  'light.green': '绿灯', 'light.yellow': '黄灯', 'light.red': '红灯', 'light.suspended': '暂停计时', 'light.done': '按期办结', 'light.done-late': '超期办结', 'light.cancelled': '已撤销', 'light.failed': '流程异常', 'light.all': '全部',
  'remaining.left': '剩余 {d} 个工作日 {h} 小时',
  'remaining.over': '超期 {d} 个工作日 {h} 小时',
  'common.refresh': '刷新', 'common.open': '打开', 'common.ok': '确定', 'common.cancel': '取消', 'common.save': '保存', 'common.delete': '删除',
  'common.edit': '编辑', 'common.loading': '加载中…', 'common.none': '无', 'common.yes': '是', 'common.no': '否', 'common.back': '返回', 'common.total': '共 {n} 条',
  'common.success': '操作成功', 'common.actions': '操作',
  'tasks.title': '本部门待办',
  'tasks.scope.department': '本部门', 'tasks.scope.mine': '我认领的', 'tasks.scope.unassigned': '未认领',
  'tasks.case': '办件编号', 'tasks.item': '事项', 'tasks.step': '环节', 'tasks.due': '承诺时限', 'tasks.light': '状态', 'tasks.remaining': '剩余时间', 'tasks.assignee': '认领人',
  'tasks.claim': '认领', 'tasks.unclaim': '退回', 'tasks.complete': '办理', 'tasks.claimed': '已认领', 'tasks.completed': '已提交,流程进入下一环节',
  'form.title': '办理:{step}', 'form.submit': '提交', 'form.required': '请填写{label}', 'form.default': '默认表单',
  'forms.title': '任务表单', 'forms.key': '表单标识', 'forms.version': '版本', 'forms.fields': '字段',
  'forms.new': '新建表单', 'forms.newKey': '表单标识(如 duban:rating-intake)', 'forms.save': '保存新版本', 'forms.note': '版本说明', 'forms.saved': '已保存为第 {n} 版',
  'forms.unchanged': '表单没有变化,未产生新版本', 'forms.refused': '表单未保存:', 'forms.versions': '历史版本', 'forms.viewing': '正在查看第 {n} 版(保存即成为新版本)',
  'forms.pick': '从左侧选择一个表单,或新建表单', 'forms.unsaved': '有未保存的修改', 'forms.discard': '放弃未保存的修改?', 'forms.download': '下载 JSON', 'forms.latest': '最新',
  'case.title': '办件详情', 'case.number': '办件编号', 'case.item': '事项', 'case.department': '承办部门', 'case.applicant': '申请人', 'case.received': '受理时间',
  'case.promised': '承诺办结时间', 'case.status': '状态', 'case.light': '灯色', 'case.remaining': '剩余时间', 'case.result': '办理结果', 'case.completedAt': '办结时间',
  'case.diagram': '流程图', 'case.timeline': '办理过程', 'case.tasks': '当前环节', 'case.sms': '短信记录', 'case.suspensions': '暂停计时记录',
  'case.suspend': '暂停计时', 'case.resume': '恢复计时', 'case.suspend.kind': '暂停类型', 'case.suspend.supplement': '补正材料', 'case.suspend.special': '特别程序',
  'case.suspend.reason': '暂停原因', 'case.resume.note': '恢复说明', 'case.suspendedDays': '已暂停 {n} 个工作日',
  'case.status.handling': '办理中', 'case.status.suspended': '暂停计时', 'case.status.completed': '已办结', 'case.status.cancelled': '已撤销',
  'case.legend.done': '已完成', 'case.legend.active': '当前环节', 'case.legend.overdue': '超期',
  'case.badge.overdue': '超期', 'case.badge.current': '当前',
  'case.sms.to': '接收号码', 'case.sms.template': '类型', 'case.sms.status': '发送状态', 'case.sms.provider': '送达状态', 'case.sms.sentAt': '发送时间',
  'case.intake': '受理新办件',
  'intake.idType': '证件类型', 'intake.uscc': '统一社会信用代码', 'intake.residentId': '居民身份证', 'intake.idNumber': '证件号码', 'intake.phone': '联系电话',
  'timeline.started': '流程启动', 'timeline.completed': '流程结束', 'timeline.enter': '进入', 'timeline.leave': '完成', 'timeline.timer': '定时器触发', 'timeline.sms': '短信已发送',
  'timeline.suspended': '暂停计时', 'timeline.resumed': '恢复计时', 'timeline.by': '经办:{who}',
  'cases.title': '办件查询', 'cases.search': '申请人或办件编号', 'cases.department': '部门',
  'sup.title': '督办件队列', 'sup.number': '督办编号', 'sup.case': '办件编号', 'sup.item': '事项', 'sup.department': '部门', 'sup.age': '已督办', 'sup.ageHours': '{n} 小时',
  'sup.urgings': '催办次数', 'sup.followUp': '跟进日期', 'sup.status': '状态', 'sup.status.open': '督办中', 'sup.status.closed': '已办结', 'sup.content': '督办事由',
  'sup.urge': '发督办通知', 'sup.urge.content': '通知内容', 'sup.urge.replyBy': '要求回复日期', 'sup.urge.default': '请于规定时间内办结并书面反馈。',
  'sup.followup': '设置跟进', 'sup.followup.at': '跟进日期', 'sup.close': '督办办结', 'sup.close.result': '监察结果', 'sup.notices': '督办通知', 'sup.panel': '督办',
  'sup.openTab': '督办中', 'sup.closedTab': '已办结', 'sup.result': '监察结果',
  'dash.title': '督办驾驶舱', 'dash.year': '{y} 年受理', 'dash.onTime': '按期办结率', 'dash.overdueNow': '当前超期', 'dash.openSup': '督办中',
  'dash.byDept': '各部门当前超期', 'dash.lights': '各部门办件灯色', 'dash.trend': '月度趋势', 'dash.topItems': '超期事项排行', 'dash.received': '受理', 'dash.completed': '办结',
  'dash.overdue': '超期', 'dash.export': '导出 Excel', 'dash.clickHint': '点击图表查看办件清单', 'dash.item': '事项', 'dash.count': '超期件数', 'dash.overdueRate': '超期率',
  'designer.title': '流程设计', 'designer.versions': '版本', 'designer.new': '新建', 'designer.insertTask': '在所选环节后插入用户任务', 'designer.download': '下载 XML',
  'designer.deploy': '部署', 'designer.deploy.note': '版本说明', 'designer.deployed': '已部署 {id}', 'designer.refused': '部署被拒绝', 'designer.problems': '检查结果',
  'designer.noProblems': '未发现问题', 'designer.errors': '{n} 个错误', 'designer.warnings': '{n} 个警告', 'designer.selectFirst': '请先选择一个环节', 'designer.unchanged': '内容未变化:{id}',
  'designer.panel': '督办属性', 'designer.name': '名称', 'designer.candidateGroups': '候选组', 'designer.assignee': '处理人', 'designer.formKey': '表单', 'designer.editForm': '编辑表单',
  'designer.dueDate': '到期时间', 'designer.timer': '定时器', 'designer.timer.workingDays': '个工作日', 'designer.timer.mode.wd': '工作日', 'designer.timer.mode.expr': '表达式',
  'designer.timer.apply': '应用', 'designer.timer.add': '添加步骤时限', 'designer.timer.hint': '写入 =workingDays(N):第 N 个工作日结束时触发',
  'designer.timer.notifyName': '环节超时提醒部门',
  'designer.timer.expr': '时间表达式', 'designer.timer.endName': '步骤超时', 'designer.timer.name': '{n} 个工作日时限', 'designer.noSelection': '选择画布上的元素以编辑属性',
  'designer.insertService': '在所选环节后插入服务任务', 'designer.templates': '选择服务模板', 'designer.templates.hint': '服务任务将作为外部任务 (camunda:type="external") 交给督办的服务处理',
  'template.topic': '主题', 'template.sendSms': '短信通知', 'template.sendSms.desc': '向申请人发送短信', 'template.notifyDepartment': '黄灯预警提醒部门', 'template.notifyDepartment.desc': '黄灯预警时提醒承办部门',
  'template.escalateToInspection': '红灯转纪检监察督办', 'template.escalateToInspection.desc': '红灯时转交纪检监察督办', 'template.completeCase': '记录办结', 'template.completeCase.desc': '记录办件办结结果',
  'template.closeSupervision': '督办办结', 'template.closeSupervision.desc': '结束督办', 'template.remindInspectors': '督办跟进提醒', 'template.remindInspectors.desc': '提醒督办人员跟进',
  'designer.condition': '流转条件 (FEEL)', 'designer.condition.hint': '以 = 开头保存;留空表示无条件', 'designer.condition.invalid': 'FEEL 表达式有语法错误', 'designer.condition.placeholder': '例如 approved = true',
  'designer.type': '类型', 'designer.id': '标识', 'designer.validating': '检查中…', 'designer.advanced': '全部属性 (Camunda)',
  'items.title': '事项目录', 'items.code': '事项编码', 'items.name': '事项名称', 'items.department': '部门', 'items.statutory': '法定时限', 'items.promised': '承诺时限',
  'items.unit': '单位', 'items.warning': '预警', 'items.warning.days': '提前 {n} 个工作日', 'items.warning.percent': '剩余 {n}%', 'items.process': '流程', 'items.active': '启用', 'items.search': '搜索事项',
  'items.unit.workday': '工作日', 'items.unit.minute': '分钟', 'items.unit.second': '秒',
  'cal.confirm': '确认全年安排已录入完整', 'cal.unconfirm': '撤销全年确认', 'cal.recomputed': '已保存,{n} 件在办办件的承诺时限随之调整', 'cal.title': '节假日与调休', 'cal.year': '年份', 'cal.confirmed': '已确认全年安排', 'cal.unconfirmed': '全年安排未确认', 'cal.day': '日期', 'cal.kind': '类型', 'cal.name': '名称',
  'cal.note': '备注', 'cal.source': '来源', 'cal.holiday': '放假', 'cal.workday': '调休上班', 'cal.override': '添加调整', 'cal.overrides': '本地调整',
  'cal.source.official': '国务院安排', 'cal.source.weekend': '周末', 'cal.source.override': '本地调整', 'cal.remove': '撤销调整', 'cal.filter.special': '仅显示节假日与调整',
  'users.title': '用户与部门', 'users.tab.users': '用户', 'users.tab.departments': '部门', 'users.new': '新建用户', 'users.edit': '编辑用户 {name}',
  'users.username': '用户名', 'users.username.rule': '2–40 位小写字母、数字或 . _ -', 'users.displayName': '姓名', 'users.password': '初始密码',
  'users.password.change': '重置密码(留空不变)', 'users.password.rule': '密码至少 8 位', 'users.roles': '角色', 'users.department': '部门',
  'users.phone': '电话', 'users.phone.rule': '6–15 位数字,可带 +', 'users.active': '启用',
  'users.dept.new': '新建部门', 'users.dept.id': '部门标识', 'users.dept.id.rule': '小写字母开头,2–40 位小写字母、数字或 -', 'users.dept.name': '部门名称', 'users.dept.nameEn': '英文名称',
  'roster.title': '值班表', 'roster.prev': '上一周', 'roster.next': '下一周', 'roster.thisWeek': '本周', 'roster.range': '{from} 至 {to}',
  'roster.hint': '值班的纪检监察人员接收当天的超期提醒', 'roster.readOnly': '只读:由管理员排班', 'roster.day': '日期', 'roster.weekday': '星期',
  'roster.onDuty': '值班纪检监察人员', 'roster.pick': '选择纪检监察人员', 'roster.nobody': '无人值班', 'roster.edit': '排班', 'roster.today': '今天',
  'roster.wd.1': '周一', 'roster.wd.2': '周二', 'roster.wd.3': '周三', 'roster.wd.4': '周四', 'roster.wd.5': '周五', 'roster.wd.6': '周六', 'roster.wd.7': '周日',
  'diff.open': '比较版本', 'diff.title': '版本比较:{key}', 'diff.added': '新增', 'diff.removed': '删除', 'diff.changed': '修改', 'diff.layout': '仅布局',
  'diff.pickTwo': '请选择两个不同的版本', 'diff.none': '两个版本没有差异', 'diff.attrs': '变更属性:{list}',
  ...projectsZh,
};

export type Key = keyof typeof zh;

const en: Record<Key, string> = {
  'app.title': 'Duban', 'app.subtitle': 'Government service supervision',
  'nav.tasks': 'My tasks', 'nav.cases': 'Cases', 'nav.supervisions': 'Supervision', 'nav.dashboard': 'Dashboard', 'nav.designer': 'Process designer',
  'nav.items': 'Item catalogue', 'nav.calendar': 'Holidays', 'nav.users': 'Users & departments', 'nav.roster': 'Duty roster', 'nav.forms': 'Task forms', 'nav.logout': 'Log out', 'lang.switch': '中文',
  'login.title': 'Sign in to Duban', 'login.username': 'Username', 'login.password': 'Password', 'login.submit': 'Sign in', 'login.failed': 'Sign-in failed',
  'login.demo': 'Demo password: duban-demo-2026 (admin, market.clerk, inspector, leader, …)',
  'role.admin': 'Administrator', 'role.clerk': 'Clerk', 'role.inspector': 'Inspector', 'role.leader': 'Leader', 'role.system': 'System',
  'light.green': 'Green', 'light.yellow': 'Yellow', 'light.red': 'Red', 'light.suspended': 'Clock stopped', 'light.done': 'Done on time', 'light.done-late': 'Done late', 'light.cancelled': 'Cancelled', 'light.failed': 'Process failed', 'light.all': 'All',
  'remaining.left': '{d} working days {h} h left', 'remaining.over': '{d} working days {h} h overdue',
  'common.refresh': 'Refresh', 'common.open': 'Open', 'common.ok': 'OK', 'common.cancel': 'Cancel', 'common.save': 'Save', 'common.delete': 'Delete',
  'common.edit': 'Edit', 'common.loading': 'Loading…', 'common.none': 'None', 'common.yes': 'Yes', 'common.no': 'No', 'common.back': 'Back', 'common.total': '{n} in total',
  'common.success': 'Done', 'common.actions': 'Actions',
  'tasks.title': 'Department tasks', 'tasks.scope.department': 'My department', 'tasks.scope.mine': 'Claimed by me', 'tasks.scope.unassigned': 'Unclaimed',
  'tasks.case': 'Case no.', 'tasks.item': 'Item', 'tasks.step': 'Step', 'tasks.due': 'Deadline', 'tasks.light': 'Light', 'tasks.remaining': 'Remaining', 'tasks.assignee': 'Claimed by',
  'tasks.claim': 'Claim', 'tasks.unclaim': 'Unclaim', 'tasks.complete': 'Handle', 'tasks.claimed': 'Claimed', 'tasks.completed': 'Submitted; the case moved to its next step',
  'form.title': 'Handle: {step}', 'form.submit': 'Submit', 'form.required': '{label} is required', 'form.default': 'Default form',
  'forms.title': 'Task forms', 'forms.key': 'Form key', 'forms.version': 'Version', 'forms.fields': 'Fields',
  'forms.new': 'New form', 'forms.newKey': 'Form key (e.g. duban:rating-intake)', 'forms.save': 'Save new version', 'forms.note': 'Version note', 'forms.saved': 'Saved as version {n}',
  'forms.unchanged': 'No change: no new version', 'forms.refused': 'The form was not saved:', 'forms.versions': 'Versions', 'forms.viewing': 'Viewing version {n} (saving makes it the newest)',
  'forms.pick': 'Pick a form on the left, or create one', 'forms.unsaved': 'Unsaved changes', 'forms.discard': 'Discard the unsaved changes?', 'forms.download': 'Download JSON', 'forms.latest': 'newest',
  'case.title': 'Case', 'case.number': 'Case no.', 'case.item': 'Item', 'case.department': 'Department', 'case.applicant': 'Applicant', 'case.received': 'Received',
  'case.promised': 'Promised by', 'case.status': 'Status', 'case.light': 'Light', 'case.remaining': 'Remaining', 'case.result': 'Result', 'case.completedAt': 'Completed',
  'case.diagram': 'Process', 'case.timeline': 'Timeline', 'case.tasks': 'Current steps', 'case.sms': 'SMS log', 'case.suspensions': 'Clock stops',
  'case.suspend': 'Stop the clock', 'case.resume': 'Restart the clock', 'case.suspend.kind': 'Kind', 'case.suspend.supplement': 'Supplement (补正)', 'case.suspend.special': 'Special procedure',
  'case.suspend.reason': 'Reason', 'case.resume.note': 'Note', 'case.suspendedDays': 'Stopped for {n} working days',
  'case.status.handling': 'Handling', 'case.status.suspended': 'Clock stopped', 'case.status.completed': 'Completed', 'case.status.cancelled': 'Cancelled',
  'case.legend.done': 'Finished', 'case.legend.active': 'Current step', 'case.legend.overdue': 'Overdue',
  'case.badge.overdue': 'Overdue', 'case.badge.current': 'Now',
  'case.sms.to': 'To', 'case.sms.template': 'Kind', 'case.sms.status': 'Status', 'case.sms.provider': 'Delivery', 'case.sms.sentAt': 'Sent',
  'case.intake': 'Take in a case',
  'intake.idType': 'ID type', 'intake.uscc': 'Unified social credit code', 'intake.residentId': 'Resident ID card', 'intake.idNumber': 'ID number', 'intake.phone': 'Phone',
  'timeline.started': 'Process started', 'timeline.completed': 'Process ended', 'timeline.enter': 'Entered', 'timeline.leave': 'Finished', 'timeline.timer': 'Timer fired', 'timeline.sms': 'SMS sent',
  'timeline.suspended': 'Clock stopped', 'timeline.resumed': 'Clock restarted', 'timeline.by': 'by {who}',
  'cases.title': 'Cases', 'cases.search': 'Applicant or case no.', 'cases.department': 'Department',
  'sup.title': 'Escalations queue', 'sup.number': 'Supervision no.', 'sup.case': 'Case no.', 'sup.item': 'Item', 'sup.department': 'Department', 'sup.age': 'Age', 'sup.ageHours': '{n} h',
  'sup.urgings': 'Urgings', 'sup.followUp': 'Follow-up', 'sup.status': 'Status', 'sup.status.open': 'Open', 'sup.status.closed': 'Closed', 'sup.content': 'Reason',
  'sup.urge': 'Issue urging notice', 'sup.urge.content': 'Content', 'sup.urge.replyBy': 'Reply by', 'sup.urge.default': 'Please complete the case in time and reply in writing.',
  'sup.followup': 'Follow up', 'sup.followup.at': 'Follow-up date', 'sup.close': 'Close', 'sup.close.result': 'Result', 'sup.notices': 'Urging notices', 'sup.panel': 'Supervision',
  'sup.openTab': 'Open', 'sup.closedTab': 'Closed', 'sup.result': 'Result',
  'dash.title': 'Supervision dashboard', 'dash.year': 'Received in {y}', 'dash.onTime': 'On-time rate', 'dash.overdueNow': 'Overdue now', 'dash.openSup': 'Open supervisions',
  'dash.byDept': 'Overdue now by department', 'dash.lights': 'Lights per department', 'dash.trend': 'Monthly trend', 'dash.topItems': 'Top overdue items', 'dash.received': 'Received', 'dash.completed': 'Completed',
  'dash.overdue': 'Overdue', 'dash.export': 'Export Excel', 'dash.clickHint': 'Click a chart to list its cases', 'dash.item': 'Item', 'dash.count': 'Overdue', 'dash.overdueRate': 'Overdue rate',
  'designer.title': 'Process designer', 'designer.versions': 'Versions', 'designer.new': 'New', 'designer.insertTask': 'Insert user task after selection', 'designer.download': 'Download XML',
  'designer.deploy': 'Deploy', 'designer.deploy.note': 'Version note', 'designer.deployed': 'Deployed {id}', 'designer.refused': 'Deployment refused', 'designer.problems': 'Problems',
  'designer.noProblems': 'No problems', 'designer.errors': '{n} errors', 'designer.warnings': '{n} warnings', 'designer.selectFirst': 'Select a step first', 'designer.unchanged': 'Unchanged: {id}',
  'designer.panel': 'Duban properties', 'designer.name': 'Name', 'designer.candidateGroups': 'Candidate groups', 'designer.assignee': 'Assignee', 'designer.formKey': 'Form', 'designer.editForm': 'Edit form',
  'designer.dueDate': 'Due date', 'designer.timer': 'Timer', 'designer.timer.workingDays': 'working days', 'designer.timer.mode.wd': 'Working days', 'designer.timer.mode.expr': 'Expression',
  'designer.timer.apply': 'Apply', 'designer.timer.add': 'Add step time limit', 'designer.timer.hint': 'Writes =workingDays(N): fires at the end of the N-th working day',
  'designer.timer.notifyName': 'Notify the department: step overdue',
  'designer.timer.expr': 'Time expression', 'designer.timer.endName': 'Step overdue', 'designer.timer.name': '{n} working days', 'designer.noSelection': 'Select an element to edit it',
  'designer.insertService': 'Insert service task after selection', 'designer.templates': 'Choose a service template', 'designer.templates.hint': 'The service task becomes an external task (camunda:type="external") served by Duban',
  'template.topic': 'Topic', 'template.sendSms': 'SMS notification', 'template.sendSms.desc': 'Send an SMS to the applicant', 'template.notifyDepartment': 'Yellow warning: notify department', 'template.notifyDepartment.desc': 'Notify the handling department on a yellow warning',
  'template.escalateToInspection': 'Red warning: escalate to inspection', 'template.escalateToInspection.desc': 'Hand over to discipline inspection on a red warning', 'template.completeCase': 'Record completion', 'template.completeCase.desc': 'Record the case outcome',
  'template.closeSupervision': 'Close supervision', 'template.closeSupervision.desc': 'Close the supervision', 'template.remindInspectors': 'Supervision follow-up reminder', 'template.remindInspectors.desc': 'Remind inspectors to follow up',
  'designer.condition': 'Condition (FEEL)', 'designer.condition.hint': 'Stored with a leading =; empty means unconditional', 'designer.condition.invalid': 'The FEEL expression has a syntax error', 'designer.condition.placeholder': 'e.g. approved = true',
  'designer.type': 'Type', 'designer.id': 'Id', 'designer.validating': 'Checking…', 'designer.advanced': 'All properties (Camunda)',
  'items.title': 'Item catalogue', 'items.code': 'Code', 'items.name': 'Name', 'items.department': 'Department', 'items.statutory': 'Statutory limit', 'items.promised': 'Promised limit',
  'items.unit': 'Unit', 'items.warning': 'Warning', 'items.warning.days': '{n} working days before', 'items.warning.percent': '{n}% left', 'items.process': 'Process', 'items.active': 'Active', 'items.search': 'Search items',
  'items.unit.workday': 'working days', 'items.unit.minute': 'minutes', 'items.unit.second': 'seconds',
  'cal.confirm': 'Confirm the year is complete', 'cal.unconfirm': 'Withdraw the confirmation', 'cal.recomputed': 'Saved; the deadlines of {n} open case(s) moved', 'cal.title': 'Holidays and make-up days', 'cal.year': 'Year', 'cal.confirmed': 'Year confirmed', 'cal.unconfirmed': 'Year not confirmed', 'cal.day': 'Day', 'cal.kind': 'Kind', 'cal.name': 'Name',
  'cal.note': 'Note', 'cal.source': 'Source', 'cal.holiday': 'Day off', 'cal.workday': 'Make-up working day', 'cal.override': 'Add override', 'cal.overrides': 'Local overrides',
  'cal.source.official': 'State Council', 'cal.source.weekend': 'Weekend', 'cal.source.override': 'Local override', 'cal.remove': 'Remove override', 'cal.filter.special': 'Holidays and overrides only',
  'users.title': 'Users & departments', 'users.tab.users': 'Users', 'users.tab.departments': 'Departments', 'users.new': 'New user', 'users.edit': 'Edit user {name}',
  'users.username': 'Username', 'users.username.rule': '2–40 lower-case letters, digits or . _ -', 'users.displayName': 'Name', 'users.password': 'Initial password',
  'users.password.change': 'Reset password (leave empty to keep)', 'users.password.rule': 'At least 8 characters', 'users.roles': 'Roles', 'users.department': 'Department',
  'users.phone': 'Phone', 'users.phone.rule': '6–15 digits, optional +', 'users.active': 'Active',
  'users.dept.new': 'New department', 'users.dept.id': 'Department id', 'users.dept.id.rule': 'A lower-case letter, then 1–39 lower-case letters, digits or -', 'users.dept.name': 'Name', 'users.dept.nameEn': 'English name',
  'roster.title': 'Duty roster', 'roster.prev': 'Previous week', 'roster.next': 'Next week', 'roster.thisWeek': 'This week', 'roster.range': '{from} to {to}',
  'roster.hint': 'Inspectors on duty receive the overdue alerts of the day', 'roster.readOnly': 'Read-only: administrators set the roster', 'roster.day': 'Date', 'roster.weekday': 'Weekday',
  'roster.onDuty': 'Inspectors on duty', 'roster.pick': 'Pick inspectors', 'roster.nobody': 'Nobody on duty', 'roster.edit': 'Assign', 'roster.today': 'Today',
  'roster.wd.1': 'Mon', 'roster.wd.2': 'Tue', 'roster.wd.3': 'Wed', 'roster.wd.4': 'Thu', 'roster.wd.5': 'Fri', 'roster.wd.6': 'Sat', 'roster.wd.7': 'Sun',
  'diff.open': 'Compare versions', 'diff.title': 'Compare versions: {key}', 'diff.added': 'Added', 'diff.removed': 'Removed', 'diff.changed': 'Changed', 'diff.layout': 'Layout only',
  'diff.pickTwo': 'Pick two different versions', 'diff.none': 'No differences', 'diff.attrs': 'Changed: {list}',
  ...projectsEn,
};

const dictionaries: Record<Lang, Record<Key, string>> = { zh, en };
const listeners = new Set<() => void>();
let current: Lang = (typeof localStorage !== 'undefined' && localStorage.getItem('duban.lang') === 'en') ? 'en' : 'zh';

export function getLang(): Lang {
  return current;
}

export function setLang(lang: Lang): void {
  current = lang;
  localStorage.setItem('duban.lang', lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  listeners.forEach((l) => l());
}

export function t(key: Key, vars?: Record<string, string | number>): string {
  let s = dictionaries[current][key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** Re-render on a language switch. */
export function useLang(): Lang {
  return useSyncExternalStore((cb) => {
    listeners.add(cb);
    return () => listeners.delete(cb);
  }, () => current);
}
