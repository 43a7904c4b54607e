import { useState } from 'react';
import { App, Form, Input, Modal, Radio, Select, Typography } from 'antd';
import { ApiError, post } from '../api';
import { t, type Key } from '../i18n';

/**
 * Task forms: a small schema per formKey (camunda:formKey="duban:…") rendered as an Ant Design form.
 * The variables go to POST /api/tasks/:id/complete; completeCase reads `decision` (or `result`).
 */
interface Field { name: string; label: Key; kind: 'text' | 'textarea' | 'radio' | 'select'; required?: boolean; initial?: string; options?: { value: string; label: Key }[] }

const opinion = (initial: string): Field => ({ name: 'opinion', label: 'form.opinion', kind: 'textarea', required: true, initial });

export const FORMS: Record<string, Field[]> = {
  'duban:accept': [opinion('材料齐全,予以受理')],
  'duban:review': [
    { name: 'reviewResult', label: 'form.reviewResult', kind: 'radio', required: true, initial: 'pass', options: [{ value: 'pass', label: 'form.pass' }, { value: 'fail', label: 'form.fail' }] },
    opinion('审查通过'),
  ],
  'duban:decide': [
    { name: 'decision', label: 'form.decision', kind: 'select', required: true, initial: '准予许可', options: [{ value: '准予许可', label: 'form.approve' }, { value: '不予许可', label: 'form.reject' }] },
    opinion('同意'),
  ],
  'duban:conclude': [opinion('已办结,结果已送达申请人')],
  'duban:supervise': [{ name: 'supervisionResult', label: 'form.supervisionResult', kind: 'textarea', required: true, initial: '已督促办结' }],
};

export function fieldsOf(formKey: string | null): Field[] {
  return (formKey && FORMS[formKey]) || [opinion('同意')];
}

export interface FormTask { id: string; name: string | null; formKey: string | null; caseNumber?: string | null; assignee?: string | null }

export function TaskFormModal({ task, username, onClose }: { task: FormTask | null; username: string; onClose(done: boolean): void }) {
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);
  const { message } = App.useApp();
  if (!task) return null;
  const fields = fieldsOf(task.formKey);
  const initial = Object.fromEntries(fields.map((f) => [f.name, f.initial]));
  return (
    <Modal
      open
      title={<span data-testid="task-form-title">{t('form.title', { step: task.name ?? '' })}{task.caseNumber ? ` · ${task.caseNumber}` : ''}</span>}
      okText={t('form.submit')}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      okButtonProps={{ 'data-testid': 'task-form-submit' } as never}
      onCancel={() => onClose(false)}
      destroyOnHidden
      onOk={async () => {
        const values = await form.validateFields();
        setBusy(true);
        try {
          if (task.assignee !== username) await post(`/api/tasks/${task.id}/claim`);
          await post(`/api/tasks/${task.id}/complete`, { variables: values });
          message.success(t('tasks.completed'));
          onClose(true);
        } catch (e) {
          message.error(e instanceof ApiError ? e.message : String(e));
        } finally {
          setBusy(false);
        }
      }}
    >
      <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>{task.formKey}</Typography.Paragraph>
      <Form form={form} layout="vertical" initialValues={initial} data-testid="task-form">
        {fields.map((f) => (
          <Form.Item key={f.name} name={f.name} label={t(f.label)} rules={f.required ? [{ required: true, message: t('form.required', { label: t(f.label) }) }] : []}>
            {f.kind === 'textarea' ? <Input.TextArea rows={3} data-testid={`field-${f.name}`} />
              : f.kind === 'radio' ? <Radio.Group data-testid={`field-${f.name}`} options={f.options!.map((o) => ({ value: o.value, label: t(o.label) }))} />
              : f.kind === 'select' ? <Select data-testid={`field-${f.name}`} options={f.options!.map((o) => ({ value: o.value, label: t(o.label) }))} />
              : <Input data-testid={`field-${f.name}`} />}
          </Form.Item>
        ))}
      </Form>
    </Modal>
  );
}
