export function patchDate(offset: () => number): void;
