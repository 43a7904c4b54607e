/**
 * The benchmark diagram: a realistic two-step approval, the same XML for the in-memory baseline and
 * the durable engine. The first task carries a three-day interrupting deadline (a timer boundary that
 * does not fire during the throughput runs, but is stored, persisted as a timer row and cleared on
 * completion like in production); when it fires (timer-lag run) the case goes to a supervisor.
 */
export const PROCESS_KEY = 'bench_approval';

export const BENCH_XML = `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  id="bench_definitions" targetNamespace="http://duban.example/bench">
  <process id="${PROCESS_KEY}" name="Supervision approval (bench)" isExecutable="true">
    <startEvent id="received" name="Case received"/>
    <sequenceFlow id="f_received_review" sourceRef="received" targetRef="review"/>
    <userTask id="review" name="Department review" camunda:assignee="\${owner}" camunda:candidateGroups="dept-a,dept-b" camunda:formKey="review-form"/>
    <boundaryEvent id="review_deadline" name="3 days" attachedToRef="review">
      <timerEventDefinition><timeDuration>P3D</timeDuration></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f_deadline_escalate" sourceRef="review_deadline" targetRef="escalate"/>
    <userTask id="escalate" name="Supervisor escalation" camunda:candidateGroups="supervisors"/>
    <sequenceFlow id="f_escalate_end" sourceRef="escalate" targetRef="escalated"/>
    <endEvent id="escalated" name="Escalated"/>
    <sequenceFlow id="f_review_approve" sourceRef="review" targetRef="approve"/>
    <userTask id="approve" name="Final approval" camunda:candidateGroups="approvers" camunda:formKey="approve-form"/>
    <sequenceFlow id="f_approve_gw" sourceRef="approve" targetRef="decision"/>
    <exclusiveGateway id="decision" name="Approved?" default="f_rejected"/>
    <sequenceFlow id="f_approved" name="yes" sourceRef="decision" targetRef="approved">
      <conditionExpression xsi:type="tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\${environment.variables.approved}</conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="f_rejected" name="no" sourceRef="decision" targetRef="rejected"/>
    <endEvent id="approved" name="Approved"/>
    <endEvent id="rejected" name="Rejected"/>
  </process>
</definitions>`;

/** Start variables, the same for both engines (the in-memory engine does not store task output). */
export function startVariables(i: number): Record<string, unknown> {
  return { owner: `officer${i % 50}`, caseNo: `C-${i}`, amount: 1000 + (i % 500), approved: true };
}
export const REVIEW_OUTPUT = { approved: true, comment: 'checked' };
export const APPROVE_OUTPUT = { approved: true, comment: 'ok' };
