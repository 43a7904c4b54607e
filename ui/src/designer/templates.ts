import { t, type Key } from '../i18n';

/** The external-task topics Duban's workers serve. */
export const TOPICS = ['sendSms', 'notifyDepartment', 'escalateToInspection', 'completeCase', 'closeSupervision', 'remindInspectors'] as const;

/**
 * Camunda 7 element templates for Duban's services: a service task becomes an external task
 * (`camunda:type="external"`) on a fixed topic. Names and descriptions follow the UI language.
 */
export function dubanTemplates() {
  return TOPICS.map((topic) => ({
    $schema: 'https://unpkg.com/@camunda/element-templates-json-schema/resources/schema.json',
    id: `duban.${topic}`,
    version: 1,
    name: t(`template.${topic}` as Key),
    description: t(`template.${topic}.desc` as Key),
    appliesTo: ['bpmn:ServiceTask'],
    properties: [
      { type: 'Hidden', value: 'external', binding: { type: 'property', name: 'camunda:type' } },
      { label: t('template.topic'), type: 'String', editable: false, value: topic, binding: { type: 'property', name: 'camunda:topic' } },
    ],
  }));
}
