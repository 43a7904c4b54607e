/** Wrap a process body in a BPMN document with the Camunda namespace, for compact test diagrams. */
export function bpmn(processId: string, body: string, extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  id="defs_${processId}" targetNamespace="http://duban.dev/test">
  ${extra}
  <process id="${processId}" name="${processId}" isExecutable="true">
${body}
  </process>
</definitions>`;
}

/** start → … → end chain helper: flows between consecutive ids. */
export function flows(...ids: string[]): string {
  return ids.slice(1).map((to, i) => `<sequenceFlow id="f_${ids[i]}_${to}" sourceRef="${ids[i]}" targetRef="${to}"/>`).join('\n');
}
