/**
 * Saved filters of a list, per user. Kept in this browser's storage under the user's name until the server
 * stores them (the API side belongs to the task-list work); the shape is the query the list sends.
 */
export type Filter = Record<string, string | undefined>;
export interface SavedFilter { name: string; filter: Filter }

const keyOf = (username: string, list: string) => `duban.filters.${list}.${username}`;

export function loadSaved(username: string, list: string): SavedFilter[] {
  try {
    const v = JSON.parse(localStorage.getItem(keyOf(username, list)) ?? '[]') as SavedFilter[];
    return Array.isArray(v) ? v.filter((f) => f && typeof f.name === 'string' && f.filter && typeof f.filter === 'object') : [];
  } catch {
    return [];
  }
}

export function storeSaved(username: string, list: string, all: SavedFilter[]): void {
  localStorage.setItem(keyOf(username, list), JSON.stringify(all.slice(0, 50)));
}
