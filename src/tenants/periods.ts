/** Budget periods: calendar days and months in UTC, as [start, end) in epoch milliseconds. */

export type BudgetPeriod = 'day' | 'month';

export interface PeriodWindow {
  start: number;
  end: number;
}

/** The UTC day or month containing `at`. */
export function periodWindow(period: BudgetPeriod, at: number): PeriodWindow {
  const date = new Date(at);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  if (period === 'day') {
    const start = Date.UTC(year, month, date.getUTCDate());
    return { start, end: start + 86_400_000 };
  }
  return { start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) };
}
