// Preloaded (`--import`) into the in-memory baseline child that measures bpmn-engine as published:
// bpmn-elements then imports the smqp release it ships with (devDependency `smqp-upstream`, the same
// version) instead of the copy patches/bpmn-elements++smqp+*.patch changes. Nothing else is redirected.
import { register } from 'node:module';

register('./upstream-resolve.mjs', import.meta.url);
