<?php

namespace Fastpush\Laravel;

use Fastpush\Event;
use Fastpush\FastpushException;
use Fastpush\PublisherInterface;
use Fastpush\TokenIssuer;
use Illuminate\Broadcasting\BroadcastException;
use Illuminate\Broadcasting\Broadcasters\Broadcaster;
use Illuminate\Support\Str;
use Symfony\Component\HttpKernel\Exception\AccessDeniedHttpException;

/**
 * Laravel's broadcasting driver for fastpush (config/broadcasting.php:
 * 'driver' => 'fastpush'; FastpushServiceProvider registers it).
 *
 * broadcast(): each channel of a ShouldBroadcast event becomes one fastpush
 * publish, acknowledged by the broker (or by fastpush-poll over HTTP):
 *
 *     channel     the Laravel channel's name as it is: "news",
 *                 "private-orders.5", "presence-chat.1"
 *     event type  broadcastAs(), or the class name with "\" as ".":
 *                 App\Events\OrderShipped -> "App.Events.OrderShipped"
 *     data        the broadcast payload (broadcastWith(), or the event's
 *                 public properties); "socket" (toOthers()) is left out
 *
 * A refusal throws Illuminate\Broadcasting\BroadcastException, its
 * getPrevious() the Fastpush\FastpushException with the code.
 *
 * auth(): the route Broadcast::routes() makes (POST /broadcasting/auth)
 * answers with a fastpush channel token instead of a Pusher signature:
 *
 *     request   channel_name=private-orders.5 (what Echo sends), or
 *               channels[]=... / channels=a,b (several at once: one
 *               EventSource for all of them needs one token)
 *     answer    {"token": JWT, "channels": [...], "expires_in": 600}
 *               (+ "channel_data" {"user_id", "user_info"} for presence-)
 *
 * The token lets its holder subscribe to exactly those channels; the
 * page passes it to fastpush.js (option token) or to EventSource.  Who
 * gets one: private- and presence- channels need a logged-in user and a
 * Broadcast::channel() callback that says yes, as with every driver;
 * other channels need a callback too, or a match in 'public_channels'
 * (exact names, or prefixes ending in "*") - a token is a credential for
 * fastpush-sse, which cannot tell Laravel's public channels from any other.
 */
class FastpushBroadcaster extends Broadcaster
{
    /** @var PublisherInterface */
    protected $publisher;
    /** @var TokenIssuer|null */
    protected $tokens;
    /** @var string[] */
    protected $publicChannels;

    public function __construct(PublisherInterface $publisher,
                                TokenIssuer $tokens = null,
                                array $publicChannels = [])
    {
        $this->publisher = $publisher;
        $this->tokens = $tokens;
        $this->publicChannels = array_values($publicChannels);
    }

    /** @return PublisherInterface the publisher (for publishes of your own) */
    public function publisher()
    {
        return $this->publisher;
    }

    /**
     * Authorize the channels the request names and issue a token for them.
     *
     * @param  \Illuminate\Http\Request  $request
     * @return array the answer (Laravel sends it as JSON)
     * @throws AccessDeniedHttpException (403) when any channel is refused
     */
    public function auth($request)
    {
        $names = $this->requestedChannels($request);
        if (!$names)
            throw new AccessDeniedHttpException('no channel_name');
        $results = [];
        foreach ($names as $name) {
            if (!Event::validChannel($name))
                throw new AccessDeniedHttpException("$name: not a fastpush channel name");
            $results[$name] = $this->authorize($request, $name);
        }
        return $this->validAuthenticationResponse($request, $results);
    }

    /**
     * The answer to an authorized request: the token.
     *
     * @param  \Illuminate\Http\Request  $request
     * @param  mixed  $result  channel name => what its callback returned
     *     (auth() passes that); anything else counts for the request's
     *     channels as a whole
     * @return array
     */
    public function validAuthenticationResponse($request, $result)
    {
        if ($this->tokens === null)
            throw new BroadcastException('fastpush: no jwt_key or jwt_key_file '
                . 'in the broadcasting connection: cannot issue channel tokens');
        $names = $this->requestedChannels($request);
        if (!is_array($result) || array_keys($result) !== $names)
            $result = array_fill_keys($names, $result);
        $user = $request->user();
        $id = null;
        if ($user)
            $id = method_exists($user, 'getAuthIdentifierForBroadcasting')
                ? $user->getAuthIdentifierForBroadcasting()
                : $user->getAuthIdentifier();
        $presence = null;
        foreach ($result as $name => $info)
            if (Str::startsWith($name, 'presence-') && $id !== null) {
                $presence = ['user_id' => $id,
                             'user_info' => is_array($info) ? $info : null];
                break;
            }
        $answer = ['token' => $this->tokens->issue($id, $names, [], [],
                                                   $presence ? $presence['user_info'] : null),
                   'channels' => $names,
                   'expires_in' => $this->tokens->ttl()];
        if ($presence)
            $answer['channel_data'] = $presence;
        return $answer;
    }

    /**
     * Publish the event on each channel.
     *
     * @param  array  $channels  Channel objects or names
     * @param  string  $event    the event's name (broadcastAs() or class)
     * @param  array  $payload
     * @throws BroadcastException when a publish is refused (all channels
     *     are tried; the first refusal is getPrevious())
     */
    public function broadcast(array $channels, $event, array $payload = [])
    {
        unset($payload['socket']);     // toOthers(): fastpush has no socket ids
        $type = str_replace('\\', '.', ltrim((string) $event, '\\'));
        $data = $payload ?: new \stdClass();
        $failed = [];
        $first = null;
        foreach ($this->formatChannels($channels) as $name) {
            try {
                $this->publisher->publish($name, $data, ['event' => $type]);
            } catch (FastpushException $e) {
                $failed[] = "$name: " . $e->getMessage();
                $first = $first ?: $e;
            }
        }
        if ($failed)
            throw new BroadcastException('fastpush refused ' . $type . ' on '
                . implode('; ', $failed), 0, $first);
    }

    /** The channel names a request asks for: channel_name or channels. */
    protected function requestedChannels($request)
    {
        $names = $request->input('channels');
        if (is_string($names))
            $names = explode(',', $names);
        if (!is_array($names))
            $names = [];
        $one = $request->input('channel_name');
        if (is_string($one) && $one !== '')
            array_unshift($names, $one);
        $out = [];
        foreach ($names as $n)
            if (is_string($n) && ($n = trim($n)) !== '' && !in_array($n, $out, true))
                $out[] = $n;
        return $out;
    }

    /**
     * What the first Broadcast::channel() callback matching $name returned
     * (true for a 'public_channels' match).
     *
     * @throws AccessDeniedHttpException
     */
    protected function authorize($request, $name)
    {
        $guarded = $this->isGuardedChannel($name);
        $channel = $this->normalizeChannelName($name);
        if ($guarded && !$this->retrieveUser($request, $channel))
            throw new AccessDeniedHttpException;
        if (!$guarded)
            foreach ($this->publicChannels as $p)
                if ($p === $name || (substr($p, -1) === '*'
                        && strncmp($name, $p, strlen($p) - 1) === 0))
                    return true;
        foreach ($this->channels as $pattern => $callback) {
            if (!$this->channelNameMatchesPattern($channel, $pattern))
                continue;
            $parameters = $this->extractAuthParameters($pattern, $channel, $callback);
            $handler = $this->normalizeChannelHandlerToCallable($callback);
            if ($result = $handler($this->retrieveUser($request, $channel), ...$parameters))
                return $result;
        }
        throw new AccessDeniedHttpException;
    }

    /** private- and presence- need a logged-in user (Laravel's rule). */
    protected function isGuardedChannel($channel)
    {
        return Str::startsWith($channel, ['private-', 'presence-']);
    }

    /** The name Broadcast::channel() patterns are matched against. */
    protected function normalizeChannelName($channel)
    {
        foreach (['private-', 'presence-'] as $prefix)
            if (Str::startsWith($channel, $prefix))
                return substr($channel, strlen($prefix));
        return $channel;
    }
}
