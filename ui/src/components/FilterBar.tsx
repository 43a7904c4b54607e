import { useState } from 'react';
import { Button, Dropdown, Input, Modal, Space } from 'antd';
import { DeleteOutlined, SaveOutlined, StarOutlined } from '@ant-design/icons';
import { t } from '../i18n';
import { loadSaved, storeSaved, type Filter } from '../savedFilters';

/** Search box, a list's own filter controls, and the user's saved filters. */
export function FilterBar({ list, username, filter, onChange, placeholder, children }: {
  list: string; username: string; filter: Filter; onChange(f: Filter): void; placeholder: string; children?: React.ReactNode;
}) {
  const [saved, setSaved] = useState(() => loadSaved(username, list));
  const [naming, setNaming] = useState(false);
  const [name, setName] = useState('');
  const [text, setText] = useState(filter.q ?? '');
  const active = Object.values(filter).some((v) => v !== undefined && v !== '');
  const save = () => {
    const n = name.trim();
    if (!n) return;
    const next = [...saved.filter((s) => s.name !== n), { name: n, filter }];
    storeSaved(username, list, next);
    setSaved(next);
    setNaming(false);
    setName('');
  };
  const remove = (n: string) => {
    const next = saved.filter((s) => s.name !== n);
    storeSaved(username, list, next);
    setSaved(next);
  };
  return (
    <Space wrap className="filter-bar" style={{ marginBottom: 12 }}>
      <Input.Search
        allowClear value={text} placeholder={placeholder} style={{ width: 260 }} data-testid={`${list}-search`}
        onChange={(e) => { setText(e.target.value); if (!e.target.value) onChange({ ...filter, q: undefined }); }}
        onSearch={(v) => onChange({ ...filter, q: v.trim() || undefined })}
      />
      {children}
      {active && <Button onClick={() => { setText(''); onChange({}); }} data-testid={`${list}-reset`}>{t('tasks.filter.reset')}</Button>}
      {active && <Button icon={<SaveOutlined />} onClick={() => setNaming(true)} data-testid={`${list}-save`}>{t('tasks.filter.save')}</Button>}
      {saved.length > 0 && (
        <Dropdown menu={{
          items: saved.map((s) => ({
            key: s.name,
            label: (
              <Space style={{ justifyContent: 'space-between', width: '100%' }} data-testid="saved-filter">
                <span>{s.name}</span>
                <DeleteOutlined title={t('tasks.filter.remove')} onClick={(e) => { e.stopPropagation(); remove(s.name); }} />
              </Space>
            ),
          })),
          onClick: ({ key }) => {
            const f = saved.find((s) => s.name === key)?.filter ?? {};
            setText(f.q ?? '');
            onChange(f);
          },
        }}>
          <Button icon={<StarOutlined />} data-testid={`${list}-saved`}>{t('tasks.filter.saved')}</Button>
        </Dropdown>
      )}
      <Modal open={naming} title={t('tasks.filter.save')} okText={t('common.save')} cancelText={t('common.cancel')} onOk={save} onCancel={() => setNaming(false)}>
        <Input value={name} onChange={(e) => setName(e.target.value)} placeholder={t('tasks.filter.name')} maxLength={40} onPressEnter={save} data-testid="filter-name" />
      </Modal>
    </Space>
  );
}
