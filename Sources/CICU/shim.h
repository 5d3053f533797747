// Static-inline wrappers: ICU renames every API with its version suffix (unorm2_normalize_72),
// which Swift cannot import as macros. These wrappers compile against any ICU version.
#include <unicode/utypes.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uregex.h>
#include <unicode/ustring.h>
#include <unicode/uversion.h>

static inline int cicu_failure(UErrorCode e) { return U_FAILURE(e); }
static inline int8_t cicu_charType(UChar32 c) { return u_charType(c); }
static inline int cicu_isWhiteSpace(UChar32 c) { return u_hasBinaryProperty(c, UCHAR_WHITE_SPACE); }
static inline int cicu_hasBinaryProperty(UChar32 c, int which) { return u_hasBinaryProperty(c, (UProperty)which); }
static inline int cicu_propAlphabetic(void) { return UCHAR_ALPHABETIC; }
static inline int cicu_propWhiteSpace(void) { return UCHAR_WHITE_SPACE; }
static inline UChar32 cicu_tolower(UChar32 c) { return u_tolower(c); }
static inline UChar32 cicu_toupper(UChar32 c) { return u_toupper(c); }
static inline int32_t cicu_getCombiningClass(UChar32 c) { return u_getCombiningClass(c); }
static inline void cicu_unicodeVersion(uint8_t *v) { u_getUnicodeVersion(v); }

static inline const UNormalizer2 *cicu_nfc(UErrorCode *e) { return unorm2_getNFCInstance(e); }
static inline const UNormalizer2 *cicu_nfd(UErrorCode *e) { return unorm2_getNFDInstance(e); }
static inline const UNormalizer2 *cicu_nfkc(UErrorCode *e) { return unorm2_getNFKCInstance(e); }
static inline const UNormalizer2 *cicu_nfkd(UErrorCode *e) { return unorm2_getNFKDInstance(e); }
static inline int32_t cicu_normalize(const UNormalizer2 *n, const UChar *src, int32_t len,
                                     UChar *dst, int32_t cap, UErrorCode *e) {
  return unorm2_normalize(n, src, len, dst, cap, e); }
static inline int32_t cicu_spanQuickCheckYes(const UNormalizer2 *n, const UChar *s, int32_t len, UErrorCode *e) {
  return unorm2_spanQuickCheckYes(n, s, len, e); }
static inline int cicu_hasBoundaryBefore(const UNormalizer2 *n, UChar32 c) { return unorm2_hasBoundaryBefore(n, c); }

// Regular expressions (libicui18n), UTF-16 interface.
static inline URegularExpression *cicu_regexOpen(const UChar *pattern, int32_t len, uint32_t flags,
                                                  UParseError *pe, UErrorCode *e) {
  return uregex_open(pattern, len, flags, pe, e); }
static inline void cicu_regexClose(URegularExpression *r) { uregex_close(r); }
static inline URegularExpression *cicu_regexClone(const URegularExpression *r, UErrorCode *e) { return uregex_clone(r, e); }
static inline void cicu_regexSetText(URegularExpression *r, const UChar *t, int32_t len, UErrorCode *e) {
  uregex_setText(r, t, len, e); }
static inline int cicu_regexFindNext(URegularExpression *r, UErrorCode *e) { return uregex_findNext(r, e); }
static inline int32_t cicu_regexStart(URegularExpression *r, UErrorCode *e) { return uregex_start(r, 0, e); }
static inline int32_t cicu_regexEnd(URegularExpression *r, UErrorCode *e) { return uregex_end(r, 0, e); }
static inline const char *cicu_errorName(UErrorCode e) { return u_errorName(e); }
static inline int32_t cicu_regexFlagCaseInsensitive(void) { return UREGEX_CASE_INSENSITIVE; }
static inline int32_t cicu_regexFlagMultiline(void) { return UREGEX_MULTILINE; }
static inline int32_t cicu_regexFlagDotAll(void) { return UREGEX_DOTALL; }
static inline int32_t cicu_regexFlagUnixLines(void) { return UREGEX_UNIX_LINES; }
static inline int32_t cicu_regexFlagComments(void) { return UREGEX_COMMENTS; }
static inline int cicu_regexMatchesAt(URegularExpression *r, int32_t start, UErrorCode *e) {
  return uregex_lookingAt(r, start, e); }

// ---- Normalization with alignments and full case mapping (NormalizedText) ----
#include <unicode/utf16.h>
// Full (recursive) decomposition mapping of c in the instance's form, as UTF-16; -1 if c maps to itself.
static inline int32_t cicu_getDecomposition(const UNormalizer2 *n, UChar32 c, UChar *dst, int32_t cap, UErrorCode *e) {
  return unorm2_getDecomposition(n, c, dst, cap, e); }
// Primary composite of a+b (Hangul included), or a negative value.
static inline UChar32 cicu_composePair(const UNormalizer2 *n, UChar32 a, UChar32 b) { return unorm2_composePair(n, a, b); }
// Full, context-free case mapping of one code point with the root locale (SpecialCasing unconditional
// mappings, e.g. U+0130 -> 0069 0307, U+00DF -> 0053 0053). Writes up to `cap` code points to `out`
// and returns how many (>= 1).
static inline int32_t cicu_fullCaseMap(UChar32 c, int upper, UChar32 *out, int32_t cap) {
  UChar src[2]; int32_t sl = 0; UBool err = 0;
  U16_APPEND(src, sl, 2, c, err);
  UChar dst[32]; UErrorCode e = U_ZERO_ERROR;
  int32_t dl = upper ? u_strToUpper(dst, 32, src, sl, "", &e) : u_strToLower(dst, 32, src, sl, "", &e);
  if (U_FAILURE(e) || dl <= 0 || dl > 32) { out[0] = c; return 1; }
  int32_t i = 0, n = 0;
  while (i < dl && n < cap) { UChar32 cp; U16_NEXT(dst, i, dl, cp); out[n++] = cp; }
  return n;
}
// Unicode version in which c was assigned, as major * 256 + minor (0 when unassigned).
static inline int32_t cicu_charAge(UChar32 c) {
  UVersionInfo v; u_charAge(c, v); return (int32_t)v[0] * 256 + (int32_t)v[1]; }

// Fast property tables: fill a 0x110000-entry byte table from ICU's range enumerations
// instead of querying every code point.
#include <unicode/uset.h>
static inline UBool cicu_typeRange(const void *context, UChar32 start, UChar32 limit, UCharCategory type) {
  uint8_t *t = (uint8_t *)context;
  for (UChar32 c = start; c < limit; c++) t[c] = (uint8_t)type;
  return 1;
}
static inline void cicu_fillCategories(uint8_t *table) { u_enumCharTypes(cicu_typeRange, table); }
/// ORs `bit` into table[c] for every code point with the binary property `which`.
static inline void cicu_markProperty(uint8_t *table, int which, uint8_t bit, UErrorCode *e) {
  const USet *s = u_getBinaryPropertySet((UProperty)which, e);
  if (U_FAILURE(*e)) return;
  int32_t n = uset_getItemCount(s);
  for (int32_t i = 0; i < n; i++) {
    UChar32 a, b;
    UErrorCode e2 = U_ZERO_ERROR;
    if (uset_getItem(s, i, &a, &b, 0, 0, &e2) == 0) for (UChar32 c = a; c <= b; c++) table[c] |= bit;
  }
}
