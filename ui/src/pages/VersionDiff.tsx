/* eslint-disable @typescript-eslint/no-explicit-any */
import { useEffect, useRef, useState } from 'react';
import { App, Empty, List, Modal, Select, Space, Spin, Tag, Typography } from 'antd';
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { diff } from 'bpmn-js-differ';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';
import { get, type Definition, errText } from '../api';
import { t } from '../i18n';
import { noteText } from '../format';

type Kind = 'added' | 'removed' | 'changed' | 'layout';
interface Change { id: string; type: string; name: string | null; kind: Kind; attrs: string[] }
const COLORS: Record<Kind, string> = { added: 'green', removed: 'red', changed: 'orange', layout: 'blue' };

/** Compare two versions of one process key with bpmn-js-differ: the newer one drawn with markers, every change listed. (Designer chunk only.) */
export function VersionDiff({ open, onClose, versions, current }: { open: boolean; onClose(): void; versions: Definition[]; current: Definition | null }) {
  const { message } = App.useApp();
  const key = current?.key;
  const same = versions.filter((v) => v.key === key).sort((a, b) => b.version - a.version);
  const [left, setLeft] = useState<string | undefined>();
  const [right, setRight] = useState<string | undefined>();
  const [changes, setChanges] = useState<Change[] | null>(null);
  const [loading, setLoading] = useState(false);
  // The canvas div mounts with the dialog's content (a portal, maybe a render later): a callback ref, then the viewer.
  const [container, setContainer] = useState<HTMLDivElement | null>(null);
  const [viewer, setViewer] = useState<any>(null);
  const viewerRef = useRef<any>(null);

  // Defaults: the open version against the one before it.
  useEffect(() => {
    if (!open || !current) return;
    const i = same.findIndex((v) => v.id === current.id);
    const older = same[i + 1] ?? same[1];
    setRight(current.id);
    setLeft(older && older.id !== current.id ? older.id : same.find((v) => v.id !== current.id)?.id);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open, current?.id]);

  useEffect(() => {
    if (!container) return;
    const v = new (NavigatedViewer as any)({ container, moddleExtensions: { camunda: camundaModdle } });
    viewerRef.current = v;
    setViewer(v);
    return () => {
      v.destroy();
      viewerRef.current = null;
      setViewer(null);
    };
  }, [container]);

  useEffect(() => {
    if (!open || !viewer || !left || !right || left === right) {
      setChanges(null);
      return;
    }
    let gone = false;
    setLoading(true);
    (async () => {
      const [a, b] = await Promise.all([left, right].map((id) => get<Definition>(`/api/process-definitions/${encodeURIComponent(id)}`)));
      if (gone) return;
      const older = a!.version <= b!.version ? a! : b!;
      const newer = older === a ? b! : a!;
      const moddle = viewer.get('moddle');
      const { rootElement: oldDefs } = await moddle.fromXML(older.xml);
      await viewer.importXML(newer.xml);
      if (gone) return;
      const d = diff(oldDefs, viewer.getDefinitions());
      const list: Change[] = [];
      const push = (kind: Kind, map: Record<string, any>) => {
        for (const [id, v] of Object.entries(map)) {
          const model = v.model ?? v;
          list.push({ id, type: String(model.$type ?? '').replace(/^bpmn:/, ''), name: model.name ?? null, kind, attrs: v.attrs ? Object.keys(v.attrs) : [] });
        }
      };
      push('added', d._added);
      push('removed', d._removed);
      push('changed', d._changed);
      push('layout', Object.fromEntries(Object.entries(d._layoutChanged as Record<string, any>).filter(([id]) => !(id in d._changed) && !(id in d._added))));
      const canvas = viewer.get('canvas');
      const registry = viewer.get('elementRegistry');
      for (const c of list) if (c.kind !== 'removed' && registry.get(c.id)) canvas.addMarker(c.id, `diff-${c.kind}`);
      canvas.zoom('fit-viewport');
      setChanges(list);
    })().catch((e) => message.error(errText(e))).finally(() => !gone && setLoading(false));
    return () => {
      gone = true;
    };
  }, [open, viewer, left, right, message]);

  const options = same.map((v) => ({ value: v.id, label: `v${v.version}${v.note ? ` · ${noteText(v.note)}` : ''}` }));
  return (
    <Modal open={open} onCancel={onClose} footer={null} width="90vw" title={t('diff.title', { key: key ?? '' })} destroyOnHidden>
      <Space wrap style={{ marginBottom: 8 }}>
        <Select style={{ width: 260 }} value={left} onChange={setLeft} options={options} data-testid="diff-left" popupMatchSelectWidth={false} />
        <span>→</span>
        <Select style={{ width: 260 }} value={right} onChange={setRight} options={options} data-testid="diff-right" popupMatchSelectWidth={false} />
        {(['added', 'removed', 'changed', 'layout'] as Kind[]).map((k) => <Tag key={k} color={COLORS[k]}>{t(`diff.${k}`)}</Tag>)}
        {loading && <Spin size="small" />}
      </Space>
      <div className="diff-body" data-testid="diff" data-ready={changes && !loading ? '1' : '0'} data-count={changes?.length ?? 0}>
        <div ref={setContainer} className="diff-canvas" data-testid="diff-canvas" />
        <div className="diff-list">
          {left === right || same.length < 2 ? <Empty description={t('diff.pickTwo')} /> : changes && changes.length === 0 ? <Empty description={t('diff.none')} /> : (
            <List size="small" dataSource={changes ?? []} renderItem={(c) => (
              <List.Item data-testid="diff-change" data-kind={c.kind} data-element-id={c.id}
                onClick={() => c.kind !== 'removed' && viewerRef.current?.get('elementRegistry').get(c.id) && viewerRef.current.get('canvas').scrollToElement(viewerRef.current.get('elementRegistry').get(c.id))}>
                <div>
                  <Tag color={COLORS[c.kind]}>{t(`diff.${c.kind}`)}</Tag>
                  <Typography.Text>{c.name ?? c.type}</Typography.Text> <Typography.Text type="secondary" code>{c.id}</Typography.Text>
                  {c.attrs.length > 0 && <div className="diff-attrs">{t('diff.attrs', { list: c.attrs.join(', ') })}</div>}
                </div>
              </List.Item>
            )} />
          )}
        </div>
      </div>
    </Modal>
  );
}
