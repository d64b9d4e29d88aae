/** A small self-contained docs page that renders /openapi.json (no CDN: works offline and in workerd). */
export function docsPage(): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Unmask API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:860px;margin:2em auto;padding:0 1em}code,pre{background:#f4f4f4;padding:2px 4px}h2{margin-top:1.5em}.m{font-weight:bold;color:#06c;text-transform:uppercase}</style>
</head><body><h1>Unmask API</h1><p>OpenAI-compatible. Authenticate with <code>Authorization: Bearer sk-unmask-…</code>.
The machine-readable spec is at <a href="/openapi.json">/openapi.json</a>.</p><div id="routes">Loading…</div>
<script>fetch('/openapi.json').then(r=>r.json()).then(doc=>{const out=[];for(const [path,ops] of Object.entries(doc.paths)){for(const [m,op] of Object.entries(ops)){out.push('<h2><span class="m">'+m+'</span> <code>'+path+'</code></h2><p>'+(op.summary||'')+'</p>')}}document.getElementById('routes').innerHTML=out.join('')})</script>
</body></html>`;
}
