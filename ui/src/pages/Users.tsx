import { useCallback, useEffect, useState } from 'react';
import { App, Button, Card, Form, Input, Modal, Select, Space, Switch, Table, Tabs, Tag, Typography } from 'antd';
import { get, patch, post, qs, type Department, type Page, errText } from '../api';
import { getLang, t } from '../i18n';

export interface User { id: string; username: string; displayName: string; departmentId: string | null; roles: string[]; phone: string | null; active: boolean }

const ROLES = ['admin', 'clerk', 'inspector', 'leader', 'system'] as const;
const PHONE = /^\+?[0-9]{6,15}$/;

function deptLabel(d: Department): string {
  return getLang() === 'en' && d.nameEn ? d.nameEn : d.name;
}

/** Users and departments (用户与部门): accounts, their roles and departments; the department list. */
export function UsersPage() {
  const { message } = App.useApp();
  const [departments, setDepartments] = useState<Department[]>([]);
  const [page, setPage] = useState(1);
  const [data, setData] = useState<Page<User> | null>(null);
  const [editing, setEditing] = useState<User | 'new' | null>(null);
  const [deptOpen, setDeptOpen] = useState(false);
  const [deptEditing, setDeptEditing] = useState<Department | null>(null);
  const [form] = Form.useForm();
  const [deptForm] = Form.useForm();
  const loadDepts = useCallback(async () => setDepartments(await get<Department[]>('/api/departments')), []);
  const load = useCallback(async () => setData(await get<Page<User>>(`/api/users${qs({ page, pageSize: 20, sort: 'username', order: 'asc' })}`)), [page]);
  useEffect(() => {
    load().catch((e) => message.error(errText(e)));
  }, [load, message]);
  useEffect(() => {
    loadDepts().catch((e) => message.error(errText(e)));
  }, [loadDepts, message]);
  const fail = (e: unknown) => message.error(errText(e));
  const deptName = (id: string | null) => {
    const d = departments.find((x) => x.id === id);
    return d ? deptLabel(d) : (id ?? '');
  };
  const deptOptions = departments.map((d) => ({ value: d.id, label: deptLabel(d) }));
  const roleOptions = ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }));

  const openEdit = (u: User | 'new') => {
    form.resetFields();
    if (u !== 'new') form.setFieldsValue({ displayName: u.displayName, departmentId: u.departmentId ?? undefined, roles: u.roles, phone: u.phone ?? '', active: u.active });
    else form.setFieldsValue({ roles: [], active: true }); // no role is preselected: the admin chooses
    setEditing(u);
  };

  const saveUser = async () => {
    const v = await form.validateFields();
    try {
      if (editing === 'new') {
        await post('/api/users', { username: v.username, displayName: v.displayName, password: v.password, roles: v.roles, phone: v.phone || null, ...(v.departmentId ? { departmentId: v.departmentId } : {}) });
      } else if (editing) {
        await patch(`/api/users/${editing.id}`, {
          displayName: v.displayName, roles: v.roles, phone: v.phone || null, active: v.active,
          // departmentId null is answered with a 500 by the server for now: an empty choice keeps the department.
          ...(v.departmentId ? { departmentId: v.departmentId } : {}),
          ...(v.password ? { password: v.password } : {}),
        });
      }
      message.success(t('common.success'));
      setEditing(null);
      await load();
    } catch (e) {
      fail(e);
    }
  };

  const saveDept = async () => {
    const v = await deptForm.validateFields();
    try {
      if (deptEditing) await patch(`/api/departments/${encodeURIComponent(deptEditing.id)}`, { name: v.name, nameEn: v.nameEn || null, phone: v.phone || null });
      else await post('/api/departments', { id: v.id, name: v.name, nameEn: v.nameEn || undefined, phone: v.phone || undefined });
      message.success(t('common.success'));
      setDeptOpen(false);
      setDeptEditing(null);
      deptForm.resetFields();
      await loadDepts();
    } catch (e) {
      fail(e);
    }
  };

  const isNew = editing === 'new';
  return (
    <Card title={t('users.title')} data-testid="users-page">
      <Tabs
        items={[
          {
            key: 'users', label: t('users.tab.users'),
            children: (
              <>
                <Space style={{ marginBottom: 12 }}>
                  <Button type="primary" onClick={() => openEdit('new')} data-testid="user-new">{t('users.new')}</Button>
                  <span data-testid="users-total">{t('common.total', { n: data?.total ?? 0 })}</span>
                </Space>
                <Table<User>
                  rowKey="id" size="small" dataSource={data?.items ?? []} scroll={{ x: 900 }}
                  pagination={{ current: page, pageSize: 20, total: data?.total ?? 0, onChange: setPage, showSizeChanger: false }}
                  onRow={(r) => ({ 'data-testid': 'user-row', 'data-username': r.username } as never)}
                  columns={[
                    { title: t('users.username'), dataIndex: 'username', render: (v: string) => <Typography.Text code>{v}</Typography.Text> },
                    { title: t('users.displayName'), dataIndex: 'displayName' },
                    { title: t('users.roles'), dataIndex: 'roles', render: (rs: string[]) => rs.map((r) => <Tag key={r} color={r === 'admin' ? 'red' : r === 'inspector' ? 'purple' : r === 'leader' ? 'gold' : 'blue'}>{t(`role.${r}` as never)}</Tag>) },
                    { title: t('users.department'), dataIndex: 'departmentId', render: (v) => deptName(v) },
                    { title: t('users.phone'), dataIndex: 'phone' },
                    { title: t('users.active'), dataIndex: 'active', render: (v) => (v ? <Tag color="green">{t('common.yes')}</Tag> : <Tag>{t('common.no')}</Tag>) },
                    { title: t('common.actions'), key: 'a', render: (_, r) => <Button size="small" onClick={() => openEdit(r)} data-testid={`user-edit-${r.username}`}>{t('common.edit')}</Button> },
                  ]}
                />
              </>
            ),
          },
          {
            key: 'departments', label: t('users.tab.departments'),
            children: (
              <>
                <Space style={{ marginBottom: 12 }}>
                  <Button type="primary" onClick={() => { setDeptEditing(null); deptForm.resetFields(); setDeptOpen(true); }} data-testid="dept-new">{t('users.dept.new')}</Button>
                </Space>
                <Table<Department>
                  rowKey="id" size="small" dataSource={departments} pagination={false}
                  onRow={(r) => ({ 'data-testid': 'dept-row', 'data-id': r.id } as never)}
                  columns={[
                    { title: t('users.dept.id'), dataIndex: 'id' },
                    { title: t('users.dept.name'), dataIndex: 'name' },
                    { title: t('users.dept.nameEn'), dataIndex: 'nameEn' },
                    { title: t('users.phone'), dataIndex: 'phone' },
                    {
                      title: t('common.actions'), key: 'a', render: (_, d) => (
                        <Button size="small" data-testid={`dept-edit-${d.id}`} onClick={() => {
                          setDeptEditing(d);
                          deptForm.setFieldsValue({ id: d.id, name: d.name, nameEn: d.nameEn ?? '', phone: d.phone ?? '' });
                          setDeptOpen(true);
                        }}>{t('common.edit')}</Button>
                      ),
                    },
                  ]}
                />
              </>
            ),
          },
        ]}
      />
      <Modal open={editing !== null} title={isNew ? t('users.new') : t('users.edit', { name: typeof editing === 'object' && editing ? editing.username : '' })}
        onCancel={() => setEditing(null)} onOk={saveUser} okText={t('common.save')} cancelText={t('common.cancel')} forceRender
        okButtonProps={{ 'data-testid': 'user-save' } as never}>
        <Form form={form} layout="vertical" data-testid="user-form">
          {isNew && <Form.Item name="username" label={t('users.username')} rules={[{ required: true, pattern: /^[a-z0-9._-]{2,40}$/, message: t('users.username.rule') }]}><Input data-testid="user-username" /></Form.Item>}
          <Form.Item name="displayName" label={t('users.displayName')} rules={[{ required: true, message: t('form.required', { label: t('users.displayName') }) }]}><Input data-testid="user-display-name" /></Form.Item>
          <Form.Item name="password" label={isNew ? t('users.password') : t('users.password.change')}
            rules={[{ required: isNew, message: t('users.password.rule') }, { min: 8, message: t('users.password.rule') }]}>
            <Input.Password data-testid="user-password" autoComplete="new-password" />
          </Form.Item>
          <Form.Item name="roles" label={t('users.roles')} rules={[{ required: true, message: t('form.required', { label: t('users.roles') }) }]}>
            <Select mode="multiple" options={roleOptions} data-testid="user-roles" />
          </Form.Item>
          <Form.Item name="departmentId" label={t('users.department')}><Select allowClear={editing === 'new'} showSearch optionFilterProp="label" options={deptOptions} data-testid="user-department" /></Form.Item>
          <Form.Item name="phone" label={t('users.phone')} rules={[{ pattern: PHONE, message: t('users.phone.rule') }]}><Input data-testid="user-phone" /></Form.Item>
          {!isNew && <Form.Item name="active" label={t('users.active')} valuePropName="checked"><Switch data-testid="user-active" /></Form.Item>}
        </Form>
      </Modal>
      <Modal open={deptOpen} title={deptEditing ? t('users.dept.edit', { name: deptEditing.name }) : t('users.dept.new')} onCancel={() => { setDeptOpen(false); setDeptEditing(null); }} onOk={saveDept} okText={t('common.save')} cancelText={t('common.cancel')} forceRender
        okButtonProps={{ 'data-testid': 'dept-save' } as never}>
        <Form form={deptForm} layout="vertical">
          <Form.Item name="id" label={t('users.dept.id')} rules={[{ required: true, pattern: /^[a-z][a-z0-9-]{1,39}$/, message: t('users.dept.id.rule') }]}><Input data-testid="dept-id" disabled={!!deptEditing} /></Form.Item>
          <Form.Item name="name" label={t('users.dept.name')} rules={[{ required: true, message: t('form.required', { label: t('users.dept.name') }) }]}><Input data-testid="dept-name" /></Form.Item>
          <Form.Item name="nameEn" label={t('users.dept.nameEn')}><Input data-testid="dept-name-en" /></Form.Item>
          <Form.Item name="phone" label={t('users.phone')} rules={[{ pattern: PHONE, message: t('users.phone.rule') }]}><Input data-testid="dept-phone" /></Form.Item>
        </Form>
      </Modal>
    </Card>
  );
}
