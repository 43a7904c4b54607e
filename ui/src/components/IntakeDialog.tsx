import { useEffect, useState } from 'react';
import { App, Form, Input, Modal, Radio, Select } from 'antd';
import { get, post, qs, type Case, type Item, type Page, errText } from '../api';
import { t } from '../i18n';
import { navigate } from '../router';

/** 受理: take in a case for one of the department's items; the server checks the ID number and starts the item's process. */
export function IntakeDialog({ open, departmentId, onClose }: { open: boolean; departmentId: string | null; onClose(): void }) {
  const [form] = Form.useForm();
  const { message } = App.useApp();
  const [items, setItems] = useState<Item[]>([]);
  const [busy, setBusy] = useState(false);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    if (!open) return;
    setLoading(true);
    get<Page<Item>>(`/api/items${qs({ departmentId, active: true, pageSize: 200, sort: 'name', order: 'asc' })}`)
      .then((p) => setItems(p.items), (e) => message.error(errText(e)))
      .finally(() => setLoading(false));
  }, [open, departmentId, message]);
  return (
    <Modal open={open} title={t('case.intake')} onCancel={onClose} confirmLoading={busy} okText={t('common.ok')} cancelText={t('common.cancel')} destroyOnHidden
      okButtonProps={{ 'data-testid': 'intake-ok' } as never}
      onOk={async () => {
        const v = await form.validateFields();
        setBusy(true);
        try {
          const c = await post<Case>('/api/cases', { ...v, applicantType: v.idType === 'uscc' ? 2 : 1, source: 'window' });
          message.success(`${t('common.success')}: ${c.number}`);
          onClose();
          navigate(`/cases/${c.id}`);
        } catch (e) {
          message.error(errText(e));
        } finally {
          setBusy(false);
        }
      }}>
      <Form form={form} layout="vertical" initialValues={{ idType: 'uscc' }} data-testid="intake-form">
        <Form.Item name="itemCode" label={t('case.item')} rules={[{ required: true }]}>
          <Select showSearch optionFilterProp="label" loading={loading} options={items.map((i) => ({ value: i.code, label: i.name }))} data-testid="intake-item" />
        </Form.Item>
        <Form.Item name="applicantName" label={t('case.applicant')} rules={[{ required: true }]}><Input data-testid="intake-applicant" /></Form.Item>
        <Form.Item name="idType" label={t('intake.idType')}>
          <Radio.Group options={[{ value: 'uscc', label: t('intake.uscc') }, { value: 'resident_id', label: t('intake.residentId') }]} />
        </Form.Item>
        <Form.Item name="idNumber" label={t('intake.idNumber')} rules={[{ required: true, len: 18 }]}><Input maxLength={18} data-testid="intake-id" /></Form.Item>
        <Form.Item name="phone" label={t('intake.phone')} rules={[{ required: true, pattern: /^\+?[0-9]{6,15}$/ }]}><Input data-testid="intake-phone" /></Form.Item>
      </Form>
    </Modal>
  );
}
