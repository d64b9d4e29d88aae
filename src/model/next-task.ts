/**
 * Resolves in a later macrotask (a timer), unlike an await of a settled promise: pending I/O, timers and other
 * requests' work run first. On workerd the timer belongs to the calling request, so only that request resumes.
 */
export const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
