import { useEffect, useRef } from 'react';
import { Form } from '@bpmn-io/form-js-viewer';
import '@bpmn-io/form-js-viewer/dist/assets/form-js.css';
import { localizeValidation } from './localize';

export type FormSchema = { type: 'default'; components: unknown[]; [k: string]: unknown };

/** One @bpmn-io/form-js viewer on a div; hands the live form to the parent, which calls submit(). */
export default function FormView({ schema, onReady }: { schema: FormSchema; onReady(form: Form | null): void }) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // No input debounce: a click on the dialog's submit button must see the last keystroke.
    const form = new Form({ container: container.current!, debounce: false } as ConstructorParameters<typeof Form>[0]);
    localizeValidation(form);
    let live = true;
    form.importSchema(schema).then(() => live && onReady(form), () => live && onReady(null));
    return () => {
      live = false;
      onReady(null);
      form.destroy();
    };
    // The schema object identifies the form; onReady is the parent's ref setter.
  }, [schema]);
  return <div ref={container} className="duban-form" />;
}
