export function uiIsStale(): boolean;
export function ensureUiBuilt(opts?: { force?: boolean; log?: (m: string) => void }): Promise<{ built: boolean; ms: number }>;
