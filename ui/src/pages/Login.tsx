import { useState } from 'react';
import { Alert, Button, Card, Form, Input, Typography } from 'antd';
import { post, type Me, errText } from '../api';
import { getLang, setLang, t } from '../i18n';

export function LoginPage({ onLogin }: { onLogin(me: Me): Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <div className="login">
      <Card className="login-card" data-testid="login-page">
        <div className="login-head">
          <span className="brand-mark big">督</span>
          <div>
            <Typography.Title level={3} style={{ margin: 0 }}>{t('login.title')}</Typography.Title>
            <Typography.Text type="secondary">{t('app.subtitle')}</Typography.Text>
          </div>
        </div>
        <Form
          layout="vertical"
          onFinish={async (v: { username: string; password: string }) => {
            setBusy(true);
            setError(null);
            try {
              const me = await post<Me>('/api/auth/login', v);
              await onLogin(me);
            } catch (e) {
              setError(errText(e));
            } finally {
              setBusy(false);
            }
          }}
        >
          <Form.Item name="username" label={t('login.username')} rules={[{ required: true }]}>
            <Input data-testid="login-username" autoComplete="username" autoFocus />
          </Form.Item>
          <Form.Item name="password" label={t('login.password')} rules={[{ required: true }]}>
            <Input.Password data-testid="login-password" autoComplete="current-password" />
          </Form.Item>
          {error && <Alert type="error" showIcon title={t('login.failed')} description={error} style={{ marginBottom: 16 }} data-testid="login-error" />}
          <Button type="primary" htmlType="submit" block loading={busy} data-testid="login-submit">{t('login.submit')}</Button>
        </Form>
        <Typography.Paragraph type="secondary" style={{ marginTop: 16, fontSize: 12 }}>{t('login.demo')}</Typography.Paragraph>
        <Button type="link" size="small" onClick={() => setLang(getLang() === 'zh' ? 'en' : 'zh')} data-testid="lang-switch">{t('lang.switch')}</Button>
      </Card>
    </div>
  );
}
