"""The page's own look and keyboard help: the chat list's style, a skip link, a heading,
the sidebar closed on phones, and focus kept in the message box after a message is sent."""

from __future__ import annotations

TITLE = "Streaming Assistant"
MESSAGE_BOX_ID = "message-box"
NEW_CHAT_ID = "new-chat"
HEADER = (f'<a class="skip-link" href="#{MESSAGE_BOX_ID}">Skip to the message box</a>'
          f'<h1 id="page-title">{TITLE}</h1>')

PAGE_CSS = """
.nav-holder { display: none !important; } /* Gradio's page links: the dashboard is not for all */
.skip-link { position: absolute; left: -10000px; top: 0; }
.skip-link:focus { left: 8px; top: 8px; z-index: 1000; padding: 8px 12px;
  background: #fff; color: #111; border: 2px solid #111; border-radius: 6px; }
#page-title { font-size: 1.05rem; font-weight: 600; margin: 0 0 4px; }
#new-chat { background: #b9380b; border-color: #b9380b; color: #fff; }
#new-chat:hover { background: #9a2f09; }
.found-message { outline: 3px solid #b9380b; outline-offset: 2px; }
#conversation-list ul { list-style: none; margin: 0; padding: 0; }
#conversation-list li.chat { display: flex; align-items: center; gap: 2px; border-radius: 6px; }
#conversation-list li.chat:hover, #conversation-list li.current
  { background: var(--background-fill-secondary); }
#conversation-list .chat-open, #conversation-list .chat-hit { flex: 1; min-width: 0;
  text-align: left; background: none; border: none; color: inherit; cursor: pointer;
  padding: 5px 6px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#conversation-list li.current .chat-open { font-weight: 600; }
#conversation-list .chat-actions { display: flex; opacity: 0; }
#conversation-list li:hover .chat-actions, #conversation-list li:focus-within .chat-actions,
#conversation-list li.current .chat-actions, #conversation-list details > .chat-actions
  { opacity: 1; }
@media (hover: none) { #conversation-list .chat-actions { opacity: 1; } }
#conversation-list .chat-action { background: none; border: none; cursor: pointer;
  padding: 2px 3px; color: inherit; }
#conversation-list .chat-group { font-size: 0.75rem; font-weight: 600; margin: 10px 6px 2px;
  color: var(--body-text-color); text-transform: uppercase; letter-spacing: 0.03em; }
#conversation-list details.chat-folder summary { cursor: pointer; padding: 4px 6px;
  font-weight: 600; }
#conversation-list details > .chat-actions { float: right; margin-top: -26px; }
#conversation-list .chat-hit { white-space: normal; display: block; width: 100%; }
#conversation-list .hit-title { display: block; font-weight: 600; }
#conversation-list .hit-snippet { display: block; font-size: 0.85em; }
#conversation-list .chat-empty { padding: 6px; color: var(--body-text-color); }
#conversation-list .chat-action[data-act="new-folder"] { margin: 8px 4px; font-size: 0.85rem; }
/* Gradio's own hints and footer are too faint (axe color-contrast): full text colour. */
.info-text, footer .show-api, footer .built-with, footer .settings, .file-type,
.thought-group .duration { color: var(--body-text-color) !important; }
"""

# Runs once when the page loads.
PAGE_SCRIPT = """() => {
  const box = () => document.querySelector('#""" + MESSAGE_BOX_ID + """ textarea');
  box()?.setAttribute('aria-label', 'Message');  // Gradio's box has no label of its own
  if (window.matchMedia('(max-width: 768px)').matches) {
    const toggle = document.querySelector('button[aria-label="Toggle Sidebar"]');
    if (toggle && toggle.closest('.sidebar')?.classList.contains('open')) toggle.click();
  }
  document.querySelector('.skip-link')?.addEventListener('click', (event) => {
    event.preventDefault();
    box()?.focus();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.target !== box()) return;
    // The box is disabled while the reply streams, which drops focus to the page.
    const started = Date.now();
    let disabledSeen = false;
    const refocus = () => {
      const textarea = box();
      if (!textarea) return;
      disabledSeen = disabledSeen || textarea.disabled;
      const active = document.activeElement;
      const lost = !active || active === document.body;
      if (!textarea.disabled && lost) textarea.focus();
      const done = disabledSeen && !textarea.disabled && document.activeElement === textarea;
      const moved = !lost && active !== textarea;  // the visitor went elsewhere
      if (!done && !moved && Date.now() - started < (disabledSeen ? 120000 : 3000)) {
        setTimeout(refocus, 100);
      }
    };
    setTimeout(refocus, 50);
  }, true);
  return [];
}"""
