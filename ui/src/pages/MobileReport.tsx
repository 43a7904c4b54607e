import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Card, Form, Input, InputNumber, List, Progress, Result, Space, Tag, Typography } from 'antd';
import { t } from '../i18n';
import { fmtDateTime } from '../format';
import { ProjectLightTag } from '../components/ProjectLightTag';
import type { ProjectDetail } from '../projects';

/**
 * 监督一点通: the phone page a responsible person opens from the SMS link. No account: the link's token is
 * the authority, for this one project. A report carries percent, text and site photos (multipart).
 */
export function MobileReportPage({ token }: { token: string }) {
  const { message } = App.useApp();
  const [p, setP] = useState<ProjectDetail | null>(null);
  const [invalid, setInvalid] = useState(false);
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const [form] = Form.useForm<{ progress: number; invested?: number; text: string }>();
  const load = useCallback(async () => {
    const res = await fetch(`/api/m/${encodeURIComponent(token)}`, { headers: { accept: 'application/json' } });
    if (!res.ok) return setInvalid(true);
    const detail = (await res.json()) as ProjectDetail;
    setP(detail);
    form.setFieldsValue({ progress: detail.progress });
  }, [token, form]);
  useEffect(() => {
    load().catch(() => setInvalid(true));
  }, [load]);

  const submit = async (v: { progress: number; invested?: number; text: string }) => {
    setBusy(true);
    try {
      const body = new FormData();
      body.set('progress', String(v.progress));
      if (v.invested !== undefined && v.invested !== null) body.set('invested', String(v.invested));
      body.set('text', v.text);
      for (const f of files) body.append('photos', f, f.name);
      const res = await fetch(`/api/m/${encodeURIComponent(token)}/reports`, { method: 'POST', body });
      if (!res.ok) {
        const problem = (await res.json().catch(() => ({}))) as { detail?: string; title?: string };
        throw new Error(problem.detail ?? problem.title ?? String(res.status));
      }
      setSent(true);
      setFiles([]);
      form.resetFields(['text']);
      await load();
    } catch (e) {
      message.error((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  if (invalid) return <div className="mobile-page"><Result status="warning" title={t('mobile.title')} subTitle={t('mobile.invalid')} /></div>;
  if (!p) return <div className="mobile-page"><Card loading /></div>;
  return (
    <div className="mobile-page" data-testid="mobile-page">
      <Typography.Title level={4} style={{ marginTop: 0 }}>{t('mobile.title')}</Typography.Title>
      <Card size="small">
        <Space direction="vertical" style={{ width: '100%' }}>
          <Space wrap><Typography.Text strong>{p.name}</Typography.Text><ProjectLightTag light={p.light} /></Space>
          <Typography.Text type="secondary">{p.departmentName} · {p.responsiblePerson}</Typography.Text>
          {p.currentMilestone && <Typography.Text>{t('proj.current')}:{p.currentMilestone.name}({t('proj.due')} {p.currentMilestone.currentDue})</Typography.Text>}
          <div>{t('proj.progress')} <Progress percent={p.progress} size="small" /></div>
          <div>{t('proj.schedule')} <Progress percent={p.scheduleProgress} size="small" strokeColor="#8c8c8c" /></div>
        </Space>
      </Card>
      {sent && <Alert className="gap" type="success" showIcon message={t('mobile.sent')} data-testid="mobile-sent" />}
      <Card size="small" className="gap">
        <Form form={form} layout="vertical" onFinish={submit} disabled={busy}>
          <Form.Item name="progress" label={t('mobile.progress')} rules={[{ required: true }]}>
            <InputNumber min={0} max={100} precision={0} style={{ width: '100%' }} data-testid="mobile-progress" inputMode="numeric" />
          </Form.Item>
          <Form.Item name="invested" label={t('mobile.invested')}>
            <InputNumber min={0} style={{ width: '100%' }} inputMode="decimal" />
          </Form.Item>
          <Form.Item name="text" label={t('mobile.text')} rules={[{ required: true, message: t('mobile.textRequired') }]}>
            <Input.TextArea rows={3} maxLength={2000} data-testid="mobile-text" />
          </Form.Item>
          <Form.Item label={t('mobile.photos')}>
            <input type="file" accept="image/jpeg,image/png,image/webp" capture="environment" multiple data-testid="mobile-photos"
              onChange={(e) => setFiles(Array.from(e.target.files ?? []).slice(0, 6))} />
            {files.length > 0 && <div>{files.map((f) => <Tag key={f.name}>{f.name}</Tag>)}</div>}
          </Form.Item>
          <Button type="primary" htmlType="submit" block size="large" loading={busy} data-testid="mobile-submit">{t('mobile.submit')}</Button>
        </Form>
      </Card>
      <Card size="small" className="gap" title={t('mobile.recent')}>
        <List size="small" dataSource={p.reports.slice(0, 5)} renderItem={(r) => (
          <List.Item><List.Item.Meta title={`${r.progress}% · ${r.text}`} description={fmtDateTime(r.reportedAt)} /></List.Item>
        )} />
      </Card>
    </div>
  );
}
