// bpmn-moddle ships metamodel typings only under its ./types export; Duban needs the class.
declare module 'bpmn-moddle' {
  export class BpmnModdle {
    constructor(packages?: Record<string, object>);
    fromXML(xml: string, typeName?: string): Promise<{ rootElement: unknown; warnings: Array<{ message: string; element?: unknown }> }>;
  }
}
