/**
 * The error a Node-only feature throws in a browser build (`browser` export condition): it names the feature, why it
 * cannot work in a page, and what to use there instead.
 */
export function nodeOnly(feature: string, needs: string, instead: string): Error {
  return new Error(`${feature} ${needs}, which a web page does not have (this is the browser build of @fitstream/callbacks); in a browser ${instead}.`);
}

/** What the Node-only plugins that keep a run's history suggest in a browser. */
export const DASHBOARD_INSTEAD = 'draw the run live with liveDashboard({ element }), and keep its events with eventToRecord (parseEventLog reads such logs back)';
