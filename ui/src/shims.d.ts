declare module 'bpmn-js-properties-panel' {
  export const BpmnPropertiesPanelModule: unknown;
  export const BpmnPropertiesProviderModule: unknown;
  export const CamundaPlatformPropertiesProviderModule: unknown;
}
declare module 'camunda-bpmn-js-behaviors/lib/camunda-platform' {
  const module: unknown;
  export default module;
}
declare module 'diagram-js/lib/util/Elements' {
  export function selfAndAllChildren(elements: unknown, allowDuplicates?: boolean): unknown[];
}
declare module 'bpmn-js-differ' {
  export function diff(oldDefinitions: unknown, newDefinitions: unknown): { _added: Record<string, any>; _removed: Record<string, any>; _changed: Record<string, any>; _layoutChanged: Record<string, any> };
}
declare module 'bpmn-js-element-templates' {
  export const ElementTemplatesPropertiesProviderModule: unknown;
}
declare module '@bpmn-io/feel-editor' {
  const FeelEditor: unknown;
  export default FeelEditor;
}
