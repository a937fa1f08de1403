// The status page at / of the http endpoint: one self-contained HTML
// document (inline style and script, no other assets) built into the
// binary. It fetches /status.json every two seconds and redraws the zones,
// their peers and the transfers-per-minute plot in place, without a
// reload. Every value from the document goes into the page as text
// (textContent), never as markup, so a zone name or an error message
// cannot inject anything.
#pragma once

#include <string>
#include <string_view>

namespace xfr {

std::string_view StatusPageHtml();

// The Content-Security-Policy to send with the page: nothing may load but
// the page's own inline style and script (allowed by their SHA-256, so no
// other inline code would run) and fetches from the same origin.
const std::string& StatusPageCsp();

}  // namespace xfr
