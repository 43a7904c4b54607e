import { useEffect, useRef, useState } from 'react';
import { Alert, Spin } from 'antd';
import { t } from '../i18n';
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';

/**
 * The case's process (bpmn-js NavigatedViewer, loaded on demand): finished steps greyed green,
 * current steps highlighted, a red badge on the late ones. Names of elements go to onNames for the timeline.
 */
export function Diagram({ xml, done, active, overdue, onNames }: {
  xml: string; done: string[]; active: string[]; overdue: string[]; onNames?(names: Record<string, string>): void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [ready, setReady] = useState(false);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let viewer: { destroy(): void } | null = null;
    let cancelled = false;
    (async () => {
      const { default: NavigatedViewer } = await import('bpmn-js/lib/NavigatedViewer');
      if (cancelled || !ref.current) return;
      const v = new NavigatedViewer({ container: ref.current });
      viewer = v;
      await v.importXML(xml);
      if (cancelled) return;
      const canvas = v.get('canvas') as { zoom(f: string): void; addMarker(id: string, c: string): void };
      const registry = v.get('elementRegistry') as { get(id: string): { businessObject?: { name?: string } } | undefined; getAll(): { id: string; businessObject?: { name?: string } }[] };
      const overlays = v.get('overlays') as { add(id: string, o: { position: Record<string, number>; html: HTMLElement }): void };
      canvas.zoom('fit-viewport');
      const names: Record<string, string> = {};
      for (const e of registry.getAll()) if (e.businessObject?.name) names[e.id] = e.businessObject.name;
      onNames?.(names);
      const has = (id: string) => !!registry.get(id);
      for (const id of done) if (has(id) && !active.includes(id)) canvas.addMarker(id, 'duban-done');
      for (const id of active) {
        if (!has(id)) continue;
        canvas.addMarker(id, 'duban-active');
        const late = overdue.includes(id);
        const badge = document.createElement('div');
        badge.className = late ? 'duban-badge duban-badge-overdue' : 'duban-badge duban-badge-current';
        badge.textContent = late ? t('case.badge.overdue') : t('case.badge.current');
        badge.dataset.testid = late ? 'overdue-badge' : 'current-badge';
        badge.dataset.elementId = id;
        overlays.add(id, { position: { top: -12, right: 18 }, html: badge });
        if (late) canvas.addMarker(id, 'duban-overdue');
      }
      setReady(true);
    })().catch((e) => {
      // A diagram that cannot be shown is an error the user sees, not a spinner forever.
      if (cancelled) return;
      console.error('diagram', e);
      setFailed(true);
    });
    return () => {
      cancelled = true;
      viewer?.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [xml, done.join(), active.join(), overdue.join()]);
  return (
    <div className="diagram-wrap">
      {!ready && !failed && <Spin className="diagram-spin" />}
      {failed && <Alert type="error" showIcon message={t('case.diagramFailed')} data-testid="diagram-failed" />}
      <div ref={ref} className="diagram" data-testid="diagram" data-ready={ready ? '1' : '0'} />
      <div className="diagram-legend">
        <span className="lg lg-done" />{t('case.legend.done')}
        <span className="lg lg-active" />{t('case.legend.active')}
        <span className="lg lg-overdue" />{t('case.legend.overdue')}
      </div>
    </div>
  );
}
