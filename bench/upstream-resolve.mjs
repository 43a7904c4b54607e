// Module resolve hook for bench/upstream-engine.mjs.
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'smqp' && context.parentURL?.includes('/node_modules/bpmn-elements/')) return nextResolve('smqp-upstream', context);
  return nextResolve(specifier, context);
}
