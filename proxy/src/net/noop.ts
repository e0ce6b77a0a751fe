// The one 'error' listener for sockets whose failure their 'close' handler
// deals with: shared, so that nothing is allocated for it per connection.
export function noop(): void {}
