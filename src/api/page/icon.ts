/** The page's icon: three overlapping circles, a herd. */
export const PAGE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="11" cy="13" r="7" fill="#3b82f6" fill-opacity=".8"/><circle cx="21" cy="13" r="7" fill="#10b981" fill-opacity=".8"/><circle cx="16" cy="21" r="7" fill="#f59e0b" fill-opacity=".8"/></svg>
`
