package natsserver

import (
	"errors"
	"net"
	"os"

	"github.com/nats-io/nats-server/v2/server"
)

// DialScoped opens a loopback connection to the server for another process
// (a worker), which gets it as a file: the server treats that connection as
// user, with user's permissions, whatever credentials it presents. forget
// drops the registration once the connection is done with; no one else can
// hold the same local address while the connection is open.
func (s *Server) DialScoped(user *server.User) (conn *os.File, forget func(), err error) {
	addr, ok := s.ns.Addr().(*net.TCPAddr)
	if !ok {
		return nil, nil, errors.New("natsserver: no TCP listener")
	}
	target := &net.TCPAddr{IP: addr.IP, Port: addr.Port}
	if target.IP.IsUnspecified() {
		target.IP = net.IPv4(127, 0, 0, 1)
		if addr.IP.To4() == nil {
			target.IP = net.IPv6loopback
		}
	}
	tcp, err := net.DialTCP("tcp", nil, target)
	if err != nil {
		return nil, nil, err
	}
	defer tcp.Close() // the file is a duplicate that keeps the socket open
	key := tcp.LocalAddr().String()
	s.auth.mu.Lock()
	s.auth.scoped[key] = user
	s.auth.mu.Unlock()
	forget = func() {
		s.auth.mu.Lock()
		delete(s.auth.scoped, key)
		s.auth.mu.Unlock()
	}
	if conn, err = tcp.File(); err != nil {
		forget()
		return nil, nil, err
	}
	return conn, forget, nil
}
